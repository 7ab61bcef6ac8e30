"""HTTP surface of deployments (releases)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from controlplane.api import ratelimit
from controlplane.api.deployments.schemas import DeploymentCreate, ReleaseList, ReleaseOut, RollbackCreate
from controlplane.api.deployments.service import ReleaseService
from controlplane.api.deps import Pagination


class ReleaseController(Controller):
    """Deployments: each records release N of the application (an image and the process specs),
    which the reconciler rolls out with its jobs before and after."""

    path = "/applications/{app_id:str}/deployments"
    tags = ["deployments"]

    @get("/", summary="List deployments, newest first")
    async def list_deployments(self, releases: ReleaseService, app_id: str, pagination: Pagination) -> ReleaseList:
        return await releases.list(app_id, pagination.offset, pagination.limit)

    @post(
        "/",
        summary="Deploy an image (or restart): jobs before, rollout, jobs after",
        status_code=HTTP_201_CREATED,
        opt=ratelimit.CREATES,
    )
    async def create_deployment(self, releases: ReleaseService, app_id: str, data: DeploymentCreate) -> ReleaseOut:
        return await releases.create(app_id, data)

    @post(
        "/rollback",
        summary="Deploy the image of an earlier, succeeded deployment",
        status_code=HTTP_201_CREATED,
        opt=ratelimit.CREATES,
    )
    async def rollback_deployment(self, releases: ReleaseService, app_id: str, data: RollbackCreate) -> ReleaseOut:
        return await releases.rollback(app_id, data)

    @get("/{release_id:str}", summary="A deployment with its steps and job outcomes")
    async def get_deployment(self, releases: ReleaseService, app_id: str, release_id: str) -> ReleaseOut:
        return await releases.get(app_id, release_id)

    @post("/{release_id:str}/cancel", summary="Cancel a running deployment", status_code=HTTP_200_OK)
    async def cancel_deployment(self, releases: ReleaseService, app_id: str, release_id: str) -> ReleaseOut:
        return await releases.cancel(app_id, release_id)
