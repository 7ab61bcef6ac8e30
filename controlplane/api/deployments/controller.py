"""HTTP surface of deployments (releases)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from controlplane.api import ratelimit
from controlplane.api.auth import Principal
from controlplane.api.deployments.schemas import DeploymentCreate, ReleaseList, ReleaseOut, RollbackCreate
from controlplane.api.deployments.service import ReleaseService
from controlplane.api.deps import Pagination, provide_processes, provide_releases


class ReleaseController(Controller):
    path = "/applications/{app_id:str}/deployments"
    tags = ["deployments"]
    dependencies = {
        "processes": Provide(provide_processes, sync_to_thread=False),
        "releases": Provide(provide_releases, sync_to_thread=False),
    }

    @get("/", summary="List deployments, newest first")
    async def list_deployments(self, releases: ReleaseService, app_id: str, pagination: Pagination) -> ReleaseList:
        return await releases.list(app_id, pagination.offset, pagination.limit)

    @post(
        "/",
        summary="Deploy an image (or restart): jobs before, rollout, jobs after",
        status_code=HTTP_201_CREATED,
        opt=ratelimit.CREATES,
    )
    async def create_deployment(
        self, request: Request[Principal, Any, Any], releases: ReleaseService, app_id: str,
        data: DeploymentCreate,
    ) -> ReleaseOut:  # fmt: skip
        return await releases.create(app_id, data, request.user.name)

    @post(
        "/rollback",
        summary="Deploy the image of an earlier, succeeded deployment",
        status_code=HTTP_201_CREATED,
        opt=ratelimit.CREATES,
    )
    async def rollback_deployment(
        self, request: Request[Principal, Any, Any], releases: ReleaseService, app_id: str,
        data: RollbackCreate,
    ) -> ReleaseOut:  # fmt: skip
        return await releases.rollback(app_id, data, request.user.name)

    @get("/{release_id:str}", summary="A deployment with its steps and job outcomes")
    async def get_deployment(self, releases: ReleaseService, app_id: str, release_id: str) -> ReleaseOut:
        return await releases.get(app_id, release_id)

    @post("/{release_id:str}/cancel", summary="Cancel a running deployment", status_code=HTTP_200_OK)
    async def cancel_deployment(self, releases: ReleaseService, app_id: str, release_id: str) -> ReleaseOut:
        return await releases.cancel(app_id, release_id)
