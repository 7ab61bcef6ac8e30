"""Engine and session factory: the only place that knows how to reach the database."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from controlplane.domain.errors import ServiceUnavailable
from controlplane.domain.settings import DEFAULT_DATABASE_BUSY_TIMEOUT_SECONDS

# aiosqlite logs every statement with its parameters at DEBUG, whatever the engine hides; like
# SQLAlchemy with its own loggers, procplane quiets it unless an operator chose its level.
if logging.getLogger("aiosqlite").level == logging.NOTSET:
    logging.getLogger("aiosqlite").setLevel(logging.INFO)

# What a client refused for a lock that could not be had is told to wait before trying again.
RETRY_AFTER_SECONDS = 1
# SQLite's primary result codes for a lock another connection holds (extended codes share the low byte).
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# PostgreSQL: lock_not_available, deadlock_detected, serialization_failure; each is worth a retry.
_POSTGRES_RETRYABLE = frozenset({"55P03", "40P01", "40001"})


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    return configure


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    busy_timeout_seconds: float = DEFAULT_DATABASE_BUSY_TIMEOUT_SECONDS,
    pool_size: int = 5,
    pool_overflow: int = 10,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """On PostgreSQL, at most `pool_size + pool_overflow` connections; a session waits at most
    `pool_timeout` seconds for one, then SQLAlchemy's TimeoutError (the API answers 503)."""
    # A failed statement's error renders its parameters, and those hold config var values and
    # secrets: hidden, they reach no log and no response.
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, hide_parameters=True, connect_args={"timeout": busy_timeout_seconds})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(int(busy_timeout_seconds * 1000)))
        return engine
    # A statement waits as long for a row lock (held by a write under the same application) before
    # PostgreSQL gives up with lock_not_available, rather than forever.
    lock_timeout = {"lock_timeout": str(int(busy_timeout_seconds * 1000))}
    return create_async_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"server_settings": lock_timeout},
        pool_size=pool_size,
        max_overflow=pool_overflow,
        pool_timeout=pool_timeout,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed by the service, rolled back on any error."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The refusal for a request that failed only because the database could not serve it in
    time: no connection free within the pool timeout, or a lock not had (SQLite busy past its
    timeout, a PostgreSQL lock timeout, deadlock or serialization failure). Nothing was written
    and the same request may succeed a moment later. None for any other error."""
    if isinstance(exc, PoolTimeout):
        return ServiceUnavailable(
            "procplane is overloaded: no database connection was free in time; retry shortly",
            retry_after=RETRY_AFTER_SECONDS,
        )
    if not isinstance(exc, DBAPIError):
        return None
    cause = exc.orig
    if isinstance(cause, sqlite3.OperationalError):
        code = getattr(cause, "sqlite_errorcode", None)
        locked = code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED) if code is not None else "locked" in str(cause)
    else:
        locked = (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) in _POSTGRES_RETRYABLE
    if not locked:
        return None
    return ServiceUnavailable(
        "The database is busy with other writes; retry this request shortly", retry_after=RETRY_AFTER_SECONDS
    )


async def ping(factory: async_sessionmaker[AsyncSession]) -> None:
    """Raise unless the database answers a trivial query."""
    async with factory() as session:
        await session.execute(text("SELECT 1"))
