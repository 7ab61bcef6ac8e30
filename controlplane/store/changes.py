"""Change notification from the API to the reconciler.

A service calls `announce(session, app_id)` inside its transaction. On PostgreSQL this issues a
NOTIFY, which the server delivers only if the transaction commits, to reconcilers in any process.
In every case the application id is also published on the in-process bus after commit, which is
what wakes a reconciler running in the same process (`procplane serve`, SQLite)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

CHANNEL = "procplane_changes"
_PENDING = "procplane_pending_changes"


class ChangeBus:
    """Fan-out of committed application ids to in-process subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[str], None]] = []

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, app_id: str) -> None:
        for callback in list(self._subscribers):
            callback(app_id)


bus = ChangeBus()


async def announce(session: AsyncSession, app_id: str) -> None:
    session.sync_session.info.setdefault(_PENDING, set()).add(app_id)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.text("SELECT pg_notify(:channel, :app_id)"), {"channel": CHANNEL, "app_id": app_id})


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    for app_id in session.info.pop(_PENDING, set()):
        bus.publish(app_id)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
