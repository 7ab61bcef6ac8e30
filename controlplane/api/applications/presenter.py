"""Stored applications to their wire form."""

from __future__ import annotations

from controlplane.api.applications.schemas import ApplicationOut
from controlplane.api.wire import from_row
from controlplane.store import models


def application(app: models.Application) -> ApplicationOut:
    return from_row(ApplicationOut, app)
