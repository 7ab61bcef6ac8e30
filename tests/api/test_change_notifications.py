"""PostgreSQL LISTEN/NOTIFY wakes a reconciler in another process, and only for committed changes."""

from __future__ import annotations

import asyncio

from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.store import changes, db
from reconciler.runner import Reconciler
from tests.postgres import PostgresServer


def test_committed_changes_wake_the_reconciler_through_postgres(postgres: PostgresServer) -> None:
    url = normalize_database_url(postgres.create_database())

    async def scenario() -> tuple[str, int]:
        engine = db.create_engine(url)
        factory = db.session_factory(engine)
        # Nothing here talks to Kubernetes: only the listener runs.
        reconciler = Reconciler(Settings(database_url=url), None, factory)
        listening = asyncio.create_task(reconciler.listen_postgres())
        await asyncio.sleep(1.0)
        async with factory() as session:
            await changes.announce(session, "rolled-back")
            await session.rollback()
        async with factory() as session:
            await changes.announce(session, "committed")
            await session.commit()
        woken = await asyncio.wait_for(reconciler.queue.get(), timeout=10)
        await asyncio.sleep(0.5)
        left = len(reconciler.queue)
        listening.cancel()
        await engine.dispose()
        return woken, left

    woken, left = asyncio.run(scenario())
    assert woken == "committed"
    assert left == 0
