"""HTTP surface of applications and their config vars."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK

from controlplane import presenters, schemas
from controlplane.api import strict_body
from controlplane.api.dependencies import Pagination, provide_applications
from controlplane.services.applications import ApplicationService


class ApplicationController(Controller):
    path = "/applications"
    tags = ["applications"]
    before_request = staticmethod(strict_body.decode_strictly)
    dependencies = {"applications": Provide(provide_applications, sync_to_thread=False)}

    @get("/", summary="List applications")
    async def list_applications(
        self, applications: ApplicationService, pagination: Pagination
    ) -> schemas.ApplicationList:
        return await applications.list(pagination.offset, pagination.limit)

    @post("/", summary="Create an application")
    async def create_application(
        self, applications: ApplicationService, data: schemas.ApplicationCreate
    ) -> schemas.ApplicationOut:
        return presenters.application(await applications.create(data))

    @get("/{app_id:str}", summary="Get an application")
    async def get_application(self, applications: ApplicationService, app_id: str) -> schemas.ApplicationOut:
        return presenters.application(await applications.require(app_id))

    @patch("/{app_id:str}", summary="Change an application's display name or image")
    async def update_application(
        self, applications: ApplicationService, app_id: str, data: schemas.ApplicationUpdate
    ) -> schemas.ApplicationOut:
        return presenters.application(await applications.update(app_id, data))

    @delete("/{app_id:str}", summary="Delete an application and everything it runs", status_code=HTTP_200_OK)
    async def delete_application(self, applications: ApplicationService, app_id: str) -> schemas.Message:
        await applications.delete(app_id)
        return schemas.Message(f"Application {app_id} deleted")

    @get("/{app_id:str}/config-vars", summary="List the keys of the config vars (values are write-only)")
    async def get_config_vars(self, applications: ApplicationService, app_id: str) -> schemas.ConfigVarKeys:
        return await applications.config_var_keys(app_id)

    @patch("/{app_id:str}/config-vars", summary="Set config vars; a null value unsets the key")
    async def update_config_vars(
        self, applications: ApplicationService, app_id: str, data: schemas.ConfigVarsUpdate
    ) -> schemas.ConfigVarKeys:
        return await applications.change_config_vars(app_id, data)
