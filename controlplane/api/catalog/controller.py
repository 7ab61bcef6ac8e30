"""HTTP surface of the machine-size catalog."""

from __future__ import annotations

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.catalog import service as resource_types
from controlplane.api.catalog.schemas import ResourceTypeOut


class ResourceTypeController(Controller):
    path = "/resources/process-resource-types"
    tags = ["resources"]

    @get("/", summary="List the machine sizes a process may use")
    async def list_process_resource_types(self, db_session: AsyncSession) -> list[ResourceTypeOut]:
        return await resource_types.list_catalog(db_session)
