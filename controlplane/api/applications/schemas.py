"""Wire types of applications."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from controlplane.api.wire import Page, Request, Response


class ApplicationCreate(Request, kw_only=True):
    name: str
    display_name: str | UnsetType = UNSET
    image: str | UnsetType | None = UNSET
    # An operator's application lands in this team (the default team when left out); a team
    # key's always lands in the key's team.
    team_id: str | UnsetType = UNSET


class ApplicationUpdate(Request, kw_only=True):
    name: str | UnsetType = UNSET
    display_name: str | UnsetType = UNSET
    image: str | UnsetType | None = UNSET


class ConfigVarsUpdate(Request):
    """Set a key to a string, or unset it with null."""

    vars: dict[str, str | None]


class ApplicationOut(Response):
    id: str
    team_id: str
    name: str
    display_name: str
    namespace: str
    image: str | None
    created_at: str
    updated_at: str


class ApplicationList(Page):
    data: list[ApplicationOut]


class ConfigVarKeys(Response):
    """Values are write-only: reading returns which keys are set, never what they hold."""

    keys: list[str]
