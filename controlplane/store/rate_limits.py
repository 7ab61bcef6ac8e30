"""Rate-limit counters in PostgreSQL, so that every API replica counts against the same budget.
(SQLite serves one process by design; its limiter counts in memory and never calls this.)"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.store import models

_TABLE = models.RateLimitCounter.__table__  # type: ignore[attr-defined]


async def count_hits(session: AsyncSession, buckets: Sequence[str], window_start: int) -> dict[str, int]:
    """Count one request in each bucket's window and return the window's counts, in one
    statement: concurrent replicas serialise on the row, so no request is counted twice or lost."""
    # A stable order of rows, so two requests counting the same two buckets cannot deadlock.
    rows = [{"bucket": bucket, "window_start": window_start, "hits": 1} for bucket in sorted(set(buckets))]
    upsert = insert(_TABLE).values(rows)
    statement = upsert.on_conflict_do_update(
        index_elements=[_TABLE.c.bucket, _TABLE.c.window_start],
        set_={"hits": _TABLE.c.hits + 1},
    ).returning(_TABLE.c.bucket, _TABLE.c.hits)
    result = await session.execute(statement)
    return {bucket: hits for bucket, hits in result.all()}


async def prune_windows(session: AsyncSession, before: int) -> None:
    """Forget the windows that started before `before`: no request counts against them any more."""
    await session.execute(sa.delete(models.RateLimitCounter).where(col(models.RateLimitCounter.window_start) < before))
