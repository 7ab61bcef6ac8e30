"""The machine-size catalog: declared by the operator, mirrored into the database at start."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.catalog import presenter
from controlplane.api.catalog.schemas import ResourceTypeOut
from controlplane.domain.settings import ResourceTypeSetting
from controlplane.store import models, repository

_ID_NAMESPACE = uuid.UUID("5b0c7d8e-1f4a-4c1e-9d7b-70726f63706c")


def resource_type_id(name: str) -> str:
    """Stable across restarts and installs, so clients may keep ids in their own config."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"resource-type/{name}"))


async def sync_catalog(session: AsyncSession, catalog: tuple[ResourceTypeSetting, ...]) -> None:
    """Types that left the catalog stay in the table (processes still point at them) but are
    hidden from the list and refused for new processes."""
    declared = {resource_type_id(t.name): t for t in catalog}
    for row in await repository.resource_types(session, active_only=False):
        row.active = row.id in declared
    for type_id, setting in declared.items():
        row = await repository.get_resource_type(session, type_id) or models.ResourceType(
            id=type_id,
            name=setting.name,
            category=setting.category,
            cpu_limit=setting.cpu_limit,
            memory_limit=setting.memory_limit,
        )
        session.add(row)
        row.category, row.cpu_limit, row.memory_limit = setting.category, setting.cpu_limit, setting.memory_limit
        row.active = True
    await session.commit()


async def list_catalog(session: AsyncSession) -> list[ResourceTypeOut]:
    """A bare array, as Sevalla answers this one list."""
    rows = await repository.resource_types(session, active_only=True)
    return [presenter.resource_type(r) for r in rows]
