"""HTTP surface of API keys: admins manage their team's keys, operators every key."""

from __future__ import annotations

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import ratelimit
from controlplane.api.api_keys import service as api_keys
from controlplane.api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from controlplane.api.auth import Principal
from controlplane.api.deps import Pagination
from controlplane.api.security import admins_only


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]
    guards = [admins_only]

    @get("/", summary="List API keys (never their secrets)")
    async def list_api_keys(self, db_session: AsyncSession, principal: Principal, pagination: Pagination) -> ApiKeyList:
        return await api_keys.list_keys(db_session, principal.scope, pagination.offset, pagination.limit)

    @post("/", summary="Create an API key; the token is shown only in this response", opt=ratelimit.CREATES)
    async def create_api_key(self, db_session: AsyncSession, principal: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
        return await api_keys.issue(db_session, principal, data)

    @post("/{key_id:str}/revoke", summary="Revoke an API key (not the last admin of a team, nor the last operator)",
          status_code=200)  # fmt: skip
    async def revoke_api_key(self, db_session: AsyncSession, principal: Principal, key_id: str) -> ApiKeyOut:
        return await api_keys.revoke(db_session, principal.scope, key_id)
