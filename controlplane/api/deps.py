"""Dependency providers, the one place services are built: one database session per request,
and every feature's service on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.applications.service import ApplicationService
from controlplane.api.auth import Principal
from controlplane.api.deployments.service import ReleaseService
from controlplane.api.observing.heartbeats import HeartbeatService
from controlplane.api.observing.service import ObservingService
from controlplane.api.processes.service import ProcessService
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


def provide_applications(db_session: AsyncSession) -> ApplicationService:
    return ApplicationService(db_session)


def provide_processes(db_session: AsyncSession, settings: Settings) -> ProcessService:
    return ProcessService(db_session, settings)


def provide_releases(
    request: Request[Principal, Any, Any], db_session: AsyncSession, processes: ProcessService
) -> ReleaseService:
    return ReleaseService(db_session, processes, actor=request.user.name)


def provide_observing(db_session: AsyncSession, settings: Settings) -> ObservingService:
    return ObservingService(db_session, settings)


def provide_heartbeats(db_session: AsyncSession) -> HeartbeatService:
    return HeartbeatService(db_session)


class Pagination:
    def __init__(self, offset: int, limit: int) -> None:
        self.offset = offset
        self.limit = limit


def provide_pagination(offset: int = 0, limit: int = 25) -> Pagination:
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
    "applications": Provide(provide_applications, sync_to_thread=False),
    "processes": Provide(provide_processes, sync_to_thread=False),
    "releases": Provide(provide_releases, sync_to_thread=False),
    "observing": Provide(provide_observing, sync_to_thread=False),
    "heartbeats": Provide(provide_heartbeats, sync_to_thread=False),
}
