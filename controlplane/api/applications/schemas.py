"""Wire types of applications."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, UnsetType

from controlplane.api.wire import Page, Request, Response, limits, text
from controlplane.domain import validation as rules

AppName = Annotated[str, text(1, rules.APP_NAME_MAX, rules.DNS_LABEL.pattern)]
DisplayName = Annotated[str, text(1, rules.DISPLAY_NAME_MAX)]
Image = Annotated[str, text(1, rules.IMAGE_MAX, rules.IMAGE_REFERENCE.pattern)]
ConfigVarKey = {"pattern": rules.CONFIG_VAR_KEY.pattern, "maxLength": rules.CONFIG_VAR_KEY_MAX}


class ApplicationCreate(Request, kw_only=True):
    name: AppName
    display_name: DisplayName | UnsetType = UNSET
    image: Image | UnsetType | None = UNSET
    # An operator's application lands in this team (the default team when left out); a team
    # key's always lands in the key's team.
    team_id: str | UnsetType = UNSET


class ApplicationUpdate(Request, kw_only=True):
    name: AppName | UnsetType = UNSET
    display_name: DisplayName | UnsetType = UNSET
    image: Image | UnsetType | None = UNSET


class ConfigVarsUpdate(Request):
    """Set a key to a string (at most 32 KiB of UTF-8), or unset it with null."""

    vars: Annotated[dict[str, str | None], limits(min_properties=1, property_names=ConfigVarKey)]


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
