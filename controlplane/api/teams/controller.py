"""HTTP surface of teams: operators create and list them; any key reads its own team."""

from __future__ import annotations

from litestar import Controller, get, post

from controlplane.api.deps import Pagination
from controlplane.api.security import operators_only
from controlplane.api.teams import presenter
from controlplane.api.teams.schemas import TeamCreate, TeamList, TeamOut
from controlplane.api.teams.service import TeamService


class TeamController(Controller):
    path = "/teams"
    tags = ["teams"]

    @get("/", summary="List teams (operator keys only)", guards=[operators_only])
    async def list_teams(self, teams: TeamService, pagination: Pagination) -> TeamList:
        return await teams.list(pagination.offset, pagination.limit)

    @post("/", summary="Create a team (operator keys only)", guards=[operators_only])
    async def create_team(self, teams: TeamService, data: TeamCreate) -> TeamOut:
        return presenter.team(await teams.create(data))

    @get("/{team_id:str}", summary="Get a team: any of its keys may read it, operators any team")
    async def get_team(self, teams: TeamService, team_id: str) -> TeamOut:
        return presenter.team(await teams.get(team_id))
