"""Teams: created and listed by operators; a team's own keys may read their team."""

from __future__ import annotations

from msgspec import UNSET, UnsetType
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.auth import Principal
from controlplane.api.teams import presenter
from controlplane.api.teams.schemas import TeamCreate, TeamList
from controlplane.domain import clock, validation
from controlplane.domain.errors import DuplicateTeam, NotFound, ValidationFailed
from controlplane.domain.tenancy import DEFAULT_TEAM, TeamScope
from controlplane.store import models, repository


async def visible_team(session: AsyncSession, scope: TeamScope, team_id: str) -> models.Team:
    """The team, or the same 404 whether it does not exist or is another team's."""
    row = await repository.get_team(session, team_id) if scope.sees(team_id) else None
    if row is None:
        raise NotFound(f"Team {team_id} does not exist")
    return row


async def default_team_id(session: AsyncSession) -> str:
    """The team an operator's application or key lands in when the request names none. The
    migration that introduced teams created it, and nothing deletes teams."""
    row = await repository.team_by_name(session, DEFAULT_TEAM)
    assert row is not None, f"the '{DEFAULT_TEAM}' team is created by the migrations"
    return row.id


async def team_of_new(session: AsyncSession, caller: Principal, named: str | UnsetType) -> str:
    """The team a new application or key of `caller` lands in: the one the request names (only
    an operator may name another than its own, which any other key is told does not exist), else
    the caller's own, else (an operator's) the default team."""
    if named is not UNSET:
        return (await visible_team(session, caller.scope, named)).id
    if caller.team_id is not None:
        return caller.team_id
    return await default_team_id(session)


class TeamService:
    def __init__(self, session: AsyncSession, scope: TeamScope) -> None:
        self.session = session
        self.scope = scope

    async def get(self, team_id: str) -> models.Team:
        return await visible_team(self.session, self.scope, team_id)

    async def list(self, offset: int, limit: int) -> TeamList:
        rows, total = await repository.list_teams(self.session, offset, limit)
        return TeamList(data=[presenter.team(t) for t in rows], total=total, offset=offset, limit=limit)

    async def create(self, data: TeamCreate) -> models.Team:
        if errors := validation.team_name_errors(data.name):
            raise ValidationFailed(errors)
        taken = DuplicateTeam(f"A team named '{data.name}' already exists", field="name")
        if await repository.team_by_name(self.session, data.name) is not None:
            raise taken
        row = models.Team(name=data.name, created_at=clock.utcnow())
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # created by a concurrent request since the check above
            raise taken from exc
        await self.session.commit()
        return row
