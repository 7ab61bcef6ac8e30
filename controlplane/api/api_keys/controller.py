"""HTTP surface of API keys (admins only)."""

from __future__ import annotations

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import ratelimit, strict_body
from controlplane.api.api_keys import service as api_keys
from controlplane.api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from controlplane.api.deps import Pagination
from controlplane.api.security import admins_only


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]
    before_request = staticmethod(strict_body.decode_strictly)
    guards = [admins_only]

    @get("/", summary="List API keys (never their secrets)")
    async def list_api_keys(self, db_session: AsyncSession, pagination: Pagination) -> ApiKeyList:
        return await api_keys.list_keys(db_session, pagination.offset, pagination.limit)

    @post("/", summary="Create an API key; the token is shown only in this response", opt=ratelimit.CREATES)
    async def create_api_key(self, db_session: AsyncSession, data: ApiKeyCreate) -> ApiKeyCreated:
        return await api_keys.create(db_session, data.name, data.role)

    @post("/{key_id:str}/revoke", summary="Revoke an API key", status_code=200)
    async def revoke_api_key(self, db_session: AsyncSession, key_id: str) -> ApiKeyOut:
        return await api_keys.revoke(db_session, key_id)
