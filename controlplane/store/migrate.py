"""Schema migrations, run programmatically so `procplane migrate` needs no alembic.ini.

On PostgreSQL every migrator (the chart's hook Job, `procplane migrate`, an API starting up) first
takes one transaction-scoped advisory lock: parallel migrators wait for each other, and the later
ones then find the schema at head and do nothing, instead of racing to create the same tables."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock's key, one signed 64-bit number for the whole database, derived from a name so
# it does not collide with the locks other software on the same database takes.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"procplane.migrate").digest()[:8], "big", signed=True)


def lock(connection: Connection) -> None:
    """Wait for the migration lock (PostgreSQL); held until the migration's transaction ends.
    SQLite needs none: its one write lock already serializes writers."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_async(database_url: str) -> None:
    # env.py drives its own event loop, so keep it off the caller's.
    await asyncio.to_thread(upgrade, database_url)
