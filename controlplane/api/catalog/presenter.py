"""Stored catalog to their wire form."""

from __future__ import annotations

from controlplane.api.catalog.schemas import ResourceTypeOut
from controlplane.api.wire import from_row
from controlplane.domain.states import ResourceCategory
from controlplane.store import models


def resource_type(row: models.ResourceType) -> ResourceTypeOut:
    return from_row(ResourceTypeOut, row, category=ResourceCategory(row.category))
