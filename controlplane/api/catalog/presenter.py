"""Stored catalog to their wire form."""

from __future__ import annotations

from controlplane.api.catalog.schemas import ResourceTypeOut
from controlplane.domain.states import ResourceCategory
from controlplane.store import models


def resource_type(row: models.ResourceType) -> ResourceTypeOut:
    return ResourceTypeOut(
        id=row.id,
        name=row.name,
        category=ResourceCategory(row.category),
        cpu_limit=row.cpu_limit,
        memory_limit=row.memory_limit,
    )
