"""Dependency providers, the one place services are built: one database session per request,
and every feature's service on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.applications.service import ApplicationService
from controlplane.api.auth import Principal
from controlplane.api.deployments.service import ReleaseService
from controlplane.api.observing.heartbeats import HeartbeatService
from controlplane.api.observing.service import ObservingService
from controlplane.api.processes.service import ProcessService
from controlplane.api.search.service import ProcessSearch
from controlplane.api.security import principal_of
from controlplane.api.teams.service import TeamService
from controlplane.domain.errors import FieldError, ValidationFailed
from controlplane.domain.settings import Settings
from controlplane.store import db

MAX_LIMIT = 100
MAX_OFFSET = 10_000


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    async for session in db.session_scope(state.session_factory):
        yield session


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    """The key that authenticated the request: services get its team once, at construction, and
    see only what that team (or, for an operator key, every team) may see."""
    return principal_of(request)


def provide_applications(db_session: AsyncSession, settings: Settings, principal: Principal) -> ApplicationService:
    return ApplicationService(db_session, settings, principal)


def provide_processes(db_session: AsyncSession, settings: Settings, principal: Principal) -> ProcessService:
    return ProcessService(db_session, settings, principal.scope)


def provide_releases(db_session: AsyncSession, processes: ProcessService, principal: Principal) -> ReleaseService:
    return ReleaseService(db_session, processes, actor=principal.name)


def provide_observing(
    db_session: AsyncSession, settings: Settings, principal: Principal, state: State
) -> ObservingService:
    return ObservingService(db_session, settings, principal.scope, state.webhook_resolver)


def provide_heartbeats(db_session: AsyncSession, principal: Principal) -> HeartbeatService:
    return HeartbeatService(db_session, principal.scope)


def provide_search(db_session: AsyncSession, principal: Principal) -> ProcessSearch:
    return ProcessSearch(db_session, principal.scope)


def provide_teams(db_session: AsyncSession, principal: Principal) -> TeamService:
    return TeamService(db_session, principal.scope)


class Pagination:
    def __init__(self, offset: int, limit: int) -> None:
        self.offset = offset
        self.limit = limit


# The ranges are checked below, with procplane's codes; `schema_extra` only shows them in the document.
Offset = Annotated[int, Parameter(schema_extra={"minimum": 0, "maximum": MAX_OFFSET}, required=False)]
Limit = Annotated[int, Parameter(schema_extra={"minimum": 1, "maximum": MAX_LIMIT}, required=False)]


def provide_pagination(offset: Offset = 0, limit: Limit = 25) -> Pagination:
    errors = []
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", "out_of_range", f"must be between 1 and {MAX_LIMIT}"))
    if not 0 <= offset <= MAX_OFFSET:
        errors.append(FieldError("offset", "out_of_range", f"must be between 0 and {MAX_OFFSET}"))
    if errors:
        raise ValidationFailed(errors)
    return Pagination(offset, limit)


# Every dependency a handler may name, registered once on the application: a handler asks for a
# service by parameter name (`processes: ProcessService`) and gets it built on its request's session.
PROVIDERS = {
    "db_session": Provide(provide_session),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "pagination": Provide(provide_pagination, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "applications": Provide(provide_applications, sync_to_thread=False),
    "processes": Provide(provide_processes, sync_to_thread=False),
    "releases": Provide(provide_releases, sync_to_thread=False),
    "observing": Provide(provide_observing, sync_to_thread=False),
    "heartbeats": Provide(provide_heartbeats, sync_to_thread=False),
    "searching": Provide(provide_search, sync_to_thread=False),
    "teams": Provide(provide_teams, sync_to_thread=False),
}
