"""HTTP surface of applications and their config vars."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK

from controlplane.api import ratelimit
from controlplane.api.applications import presenter
from controlplane.api.applications.schemas import (
    ApplicationCreate,
    ApplicationList,
    ApplicationOut,
    ApplicationUpdate,
    ConfigVarKeys,
    ConfigVarsUpdate,
)
from controlplane.api.applications.service import ApplicationService
from controlplane.api.deps import Pagination
from controlplane.api.wire import Message


class ApplicationController(Controller):
    """Applications: each owns a namespace, its config vars and its processes."""

    path = "/applications"
    tags = ["applications"]

    @get("/", summary="List applications")
    async def list_applications(self, applications: ApplicationService, pagination: Pagination) -> ApplicationList:
        return await applications.list(pagination.offset, pagination.limit)

    @post("/", summary="Create an application", opt=ratelimit.CREATES)
    async def create_application(self, applications: ApplicationService, data: ApplicationCreate) -> ApplicationOut:
        return presenter.application(await applications.create(data))

    @get("/{app_id:str}", summary="Get an application")
    async def get_application(self, applications: ApplicationService, app_id: str) -> ApplicationOut:
        return presenter.application(await applications.require(app_id))

    @patch("/{app_id:str}", summary="Change an application's display name or image")
    async def update_application(
        self, applications: ApplicationService, app_id: str, data: ApplicationUpdate
    ) -> ApplicationOut:
        return presenter.application(await applications.update(app_id, data))

    @delete("/{app_id:str}", summary="Delete an application and everything it runs", status_code=HTTP_200_OK)
    async def delete_application(self, applications: ApplicationService, app_id: str) -> Message:
        await applications.delete(app_id)
        return Message(f"Application {app_id} deleted")

    @get("/{app_id:str}/config-vars", summary="List the keys of the config vars (values are write-only)")
    async def get_config_vars(self, applications: ApplicationService, app_id: str) -> ConfigVarKeys:
        return await applications.config_var_keys(app_id)

    @patch("/{app_id:str}/config-vars", summary="Set config vars; a null value unsets the key")
    async def update_config_vars(
        self, applications: ApplicationService, app_id: str, data: ConfigVarsUpdate
    ) -> ConfigVarKeys:
        return await applications.change_config_vars(app_id, data)
