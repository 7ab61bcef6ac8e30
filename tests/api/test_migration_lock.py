"""Migrators started together on one PostgreSQL database wait for each other's advisory lock:
every one of them succeeds and the schema is created once, at head."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from alembic.script import ScriptDirectory

from controlplane.store import migrate
from tests.postgres import PostgresServer
from tests.support.localcluster.testing import eventually

MIGRATORS = 4
PROCPLANE = Path(sys.executable).parent / "procplane"


async def _scalar(url: str, query: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def _start_migrators(url: str) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PROCPLANE_DATABASE_URL": url}
    pipe = subprocess.PIPE
    return [
        subprocess.Popen([str(PROCPLANE), "migrate"], env=env, stdout=pipe, stderr=pipe, text=True)
        for _ in range(MIGRATORS)
    ]


def test_parallel_migrators_wait_for_the_lock_and_all_succeed(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    waiting = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        f" AND ((classid::bigint << 32) | objid::bigint) = {migrate.MIGRATION_LOCK_KEY}"
    )

    async def hold_lock_while_migrators_queue() -> list[subprocess.Popen[str]]:
        # The test holds the lock first, so all the migrators are certainly running at once: each
        # is seen queued behind it before it is let go.
        holder = await asyncpg.connect(url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", migrate.MIGRATION_LOCK_KEY)
            migrators = await asyncio.to_thread(_start_migrators, url)
            await asyncio.to_thread(
                eventually,
                lambda: asyncio.run(_scalar(url, waiting)) == MIGRATORS,
                timeout=120,
                what=f"{MIGRATORS} migrators waiting for the lock",
            )
            await holder.execute("SELECT pg_advisory_unlock($1)", migrate.MIGRATION_LOCK_KEY)
        finally:
            await holder.close()
        return migrators

    migrators = asyncio.run(hold_lock_while_migrators_queue())
    outcomes = [(m.returncode, out, err) for m in migrators for out, err in [m.communicate(timeout=300)]]
    assert [(code, out) for code, out, _ in outcomes] == [(0, "database schema is up to date\n")] * MIGRATORS
    # One migrator created the schema; the others, let in after it, found it at head.
    assert sum("Running upgrade  -> 0001" in err for _, _, err in outcomes) == 1
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert asyncio.run(_scalar(url, "SELECT string_agg(version_num, ',') FROM alembic_version")) == head
