"""Finding the application or process a URL names, or answering 404: shared by every service.
Another team's application is answered exactly as one that does not exist."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.domain.errors import NotFound
from controlplane.domain.tenancy import TeamScope
from controlplane.store import models, repository


async def application(session: AsyncSession, scope: TeamScope, app_id: str) -> models.Application:
    app = await repository.visible_application(session, scope, app_id)
    if app is None:
        raise NotFound(f"Application {app_id} does not exist")
    return app


async def locked_application(session: AsyncSession, scope: TeamScope, app_id: str) -> models.Application:
    """The application, locked for the rest of the transaction (see `repository.lock_application`),
    or a 404: the first step of every write under an application."""
    app = await repository.lock_application(session, app_id)
    if app is None or not scope.sees(app.team_id):
        raise NotFound(f"Application {app_id} does not exist")
    return app


async def process(session: AsyncSession, scope: TeamScope, app_id: str, process_id: str) -> models.Process:
    """The process, or a 404 that says whether the application or the process is missing."""
    await application(session, scope, app_id)
    row = await repository.get_process(session, app_id, process_id)
    if row is None:
        raise NotFound(f"Process {process_id} does not exist in application {app_id}")
    return row
