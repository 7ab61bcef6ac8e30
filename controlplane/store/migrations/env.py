"""Alembic environment: runs the migrations over procplane's async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from controlplane.store import (
    db,
    migrate,
    models,  # noqa: F401 - registers the tables on the metadata
)


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch mode changes a table by copying it, dropping the old one and renaming the copy:
        # with foreign keys enforced, that drop would cascade into every table referencing it
        # (dropping `applications` would delete every process). The pragma only takes effect
        # outside a transaction, so it comes first.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        # Before alembic reads the schema's revision: a migrator that waited sees the winner's.
        migrate.lock(connection)
        context.run_migrations()


async def _run_async() -> None:
    engine = db.create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_async())
