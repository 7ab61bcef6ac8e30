"""HTTP surface of the machine-size catalog, API keys and health."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane import schemas
from controlplane.api import strict_body
from controlplane.api.dependencies import Pagination
from controlplane.api.problems import problem_response
from controlplane.api.security import admins_only
from controlplane.errors import NotReady
from controlplane.services import api_keys, resource_types


class ResourceTypeController(Controller):
    path = "/resources/process-resource-types"
    tags = ["resources"]

    @get("/", summary="List the machine sizes a process may use")
    async def list_process_resource_types(self, db_session: AsyncSession) -> list[schemas.ResourceTypeOut]:
        return await resource_types.list_catalog(db_session)


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]
    before_request = staticmethod(strict_body.decode_strictly)
    guards = [admins_only]

    @get("/", summary="List API keys (never their secrets)")
    async def list_api_keys(self, db_session: AsyncSession, pagination: Pagination) -> schemas.ApiKeyList:
        return await api_keys.list_keys(db_session, pagination.offset, pagination.limit)

    @post("/", summary="Create an API key; the token is shown only in this response")
    async def create_api_key(self, db_session: AsyncSession, data: schemas.ApiKeyCreate) -> schemas.ApiKeyCreated:
        return await api_keys.create(db_session, data.name, data.role)

    @post("/{key_id:str}/revoke", summary="Revoke an API key", status_code=200)
    async def revoke_api_key(self, db_session: AsyncSession, key_id: str) -> schemas.ApiKeyOut:
        return await api_keys.revoke(db_session, key_id)


@get("/healthz", tags=["health"], summary="Liveness", include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], summary="Readiness: the database answers")
async def readyz(state: State) -> Response[Any]:
    try:
        async with state.session_factory() as session:
            await session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any database failure means not ready; the reason is in the body
        return problem_response(NotReady(f"database unreachable: {type(exc).__name__}"))
    return Response({"status": "ok"})
