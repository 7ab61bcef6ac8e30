"""The reconciler's view of the database: specs in, status and run bookkeeping out, each call in
its own session. Specs are re-read on every pass (level-triggered: an event only says "look
again"); the queries are the store's."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.domain.desired import Desired
from controlplane.domain.observed import ObservedStatus
from controlplane.domain.release import ReleaseRecord, Step
from controlplane.store import reconciling


class Source:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory

    async def application_ids(self) -> list[str]:
        async with self.factory() as session:
            return await reconciling.application_ids(session)

    async def load(self, app_id: str) -> Desired | None:
        async with self.factory() as session:
            return await reconciling.load(session, app_id)

    async def record_status(self, process_id: str, status: ObservedStatus) -> bool:
        """Store a process's status when it differs from what is stored; True when it did."""
        async with self.factory() as session:
            return await reconciling.record_status(session, process_id, status)

    async def mark_run_started(self, run_id: str, job_name: str) -> None:
        async with self.factory() as session:
            await reconciling.mark_run_started(session, run_id, job_name)

    async def save_release_step(
        self, app_id: str, release: ReleaseRecord, result: Step, started_jobs: dict[str, str]
    ) -> None:
        async with self.factory() as session:
            await reconciling.save_release_step(session, app_id, release, result, started_jobs)

    async def mark_jobs_cancelled(self, job_names: tuple[str, ...]) -> None:
        async with self.factory() as session:
            await reconciling.mark_jobs_cancelled(session, job_names)
