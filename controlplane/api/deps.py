"""Dependency providers, the one place services are built: one database session per request,
and every feature's service on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.applications.service import ApplicationService
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


def provide_releases(db_session: AsyncSession, processes: ProcessService) -> ReleaseService:
    return ReleaseService(db_session, processes)


def provide_observing(db_session: AsyncSession, settings: Settings) -> ObservingService:
    return ObservingService(db_session, settings)


def provide_heartbeats(db_session: AsyncSession) -> HeartbeatService:
    return HeartbeatService(db_session)


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
