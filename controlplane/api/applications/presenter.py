"""Stored applications to their wire form."""

from __future__ import annotations

from controlplane.api.applications.schemas import ApplicationOut
from controlplane.domain.naming import timestamp
from controlplane.store import models


def application(app: models.Application) -> ApplicationOut:
    return ApplicationOut(
        id=app.id,
        name=app.name,
        display_name=app.display_name,
        namespace=app.namespace,
        image=app.image,
        created_at=timestamp(app.created_at),
        updated_at=timestamp(app.updated_at),
    )
