"""Wire types of teams."""

from __future__ import annotations

from controlplane.api.wire import Page, Request, Response


class TeamCreate(Request, kw_only=True):
    name: str


class TeamOut(Response):
    id: str
    name: str
    created_at: str


class TeamList(Page):
    data: list[TeamOut]
