"""Wire types of api keys."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, UnsetType

from controlplane.api.wire import Page, Request, Response, text
from controlplane.domain import validation
from controlplane.domain.states import Role


class ApiKeyCreate(Request, kw_only=True):
    name: Annotated[str, text(1, validation.API_KEY_NAME_MAX)]
    role: Role
    # Operator keys only: the team of the new key (an admin's keys land in its own team).
    team_id: str | UnsetType = UNSET


class ApiKeyOut(Response):
    id: str
    name: str
    role: str
    team_id: str | None  # None for an operator key
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    # Only in the response that creates the key: keep it, it is stored as a hash.
    token: str


class ApiKeyList(Page):
    data: list[ApiKeyOut]
