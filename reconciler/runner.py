"""The reconciler process: leader election, informers, the work queue and its workers, wake-ups
from the API (in-process bus, PostgreSQL LISTEN/NOTIFY) and a periodic full resync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.domain import logcontext, spec
from controlplane.domain.settings import Settings
from controlplane.store import changes
from reconciler import metrics
from reconciler.converge.converger import Converger, application_id_of, watched_kinds
from reconciler.converge.source import Source
from reconciler.health import Health, LeaseState
from reconciler.k8s import errors
from reconciler.k8s.cache import ClusterCache
from reconciler.k8s.client import Kube
from reconciler.k8s.leader import LeaderElector
from reconciler.k8s.queue import QueueShutDown, WorkQueue
from reconciler.observe import observer

logger = logging.getLogger("procplane.reconciler")


def render_options(settings: Settings) -> spec.RenderOptions:
    return spec.RenderOptions(
        cluster_domain=settings.cluster_domain,
        ingress_class=settings.ingress_class,
        ingress_domain=settings.ingress_domain,
        progress_deadline_seconds=settings.progress_deadline_seconds,
        install_id=settings.install_id,
    )


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        api_client: Any,
        factory: async_sessionmaker[AsyncSession],
        *,
        workers: int = 4,
        resync_seconds: float = 60.0,
        lease_namespace: str = "default",
        lease_name: str = "procplane-reconciler",
        lease_seconds: float = 15.0,
        identity: str | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.resync_seconds = resync_seconds
        self.source = Source(factory)
        identity = identity or default_identity()
        # The elector writes its Lease through its own client: the leader guard must not stop it.
        self.elector = LeaderElector(
            Kube(api_client), lease_namespace, identity, name=lease_name, lease_seconds=lease_seconds,
            renew_seconds=lease_seconds / 3,
        )  # fmt: skip
        self.kube = Kube(api_client, write_allowed=self.elector.is_leader)
        self.queue = WorkQueue()
        self.cache: ClusterCache | None = None
        self.converger: Converger | None = None
        self.passes = 0
        # What the probes of `reconciler.health` read.
        self.health = Health()
        self.health.unsynced = self._unsynced

    # ---- one pass ----

    async def reconcile(self, app_id: str) -> None:
        assert self.converger is not None, "reconcile runs only while leading"
        desired = await self.source.load(app_id)
        report = await asyncio.to_thread(self.converger.converge, app_id, desired)
        for run_id, job_name in report.started_runs.items():
            await self.source.mark_run_started(run_id, job_name)
        for process_id, observed in report.statuses.items():
            await self.source.record_status(process_id, observed)
        if report.cancelled_jobs:
            await self.source.mark_jobs_cancelled(report.cancelled_jobs)
        if report.release_step is not None:
            await self.source.save_release_step(app_id, *report.release_step, report.started_jobs)
            self.queue.add(app_id)  # the next state may act at once (e.g. start the rollout)
        elif desired is not None and desired.release is not None:
            # Rollout progress also arrives as watch events; this is the safety net.
            self.queue.add_after(app_id, 5.0)
        self.passes += 1
        if report.applied or report.deleted:
            logger.info(
                "application %s: applied %d, deleted %d object(s)", app_id, len(report.applied), len(report.deleted)
            )
        for process_id, message in report.rejected.items():
            logger.warning("application %s process %s refused by the apiserver: %s", app_id, process_id, message)

    async def _work(self) -> None:
        while True:
            try:
                app_id = await self.queue.get()
            except QueueShutDown:
                return
            metrics.QUEUE_WAIT.observe(self.queue.last_wait)
            started, outcome = time.perf_counter(), metrics.Outcome.ERROR
            log_fields = logcontext.bind(application_id=app_id)
            try:
                await self.reconcile(app_id)
                self.queue.forget(app_id)
                outcome = metrics.Outcome.CONVERGED
            except errors.NotLeader:
                outcome = metrics.Outcome.NOT_LEADER
                return
            except errors.TemporaryError as exc:
                outcome = metrics.Outcome.RETRY
                if exc.retry_after:
                    self.queue.add_after(app_id, exc.retry_after)
                else:
                    delay = self.queue.add_rate_limited(app_id)
                    logger.warning("application %s: %s; retrying in %.1fs", app_id, exc, delay)
            except Exception:  # one broken application must not stop the others
                delay = self.queue.add_rate_limited(app_id)
                logger.exception("application %s: reconcile failed; retrying in %.1fs", app_id, delay)
            finally:
                metrics.RECONCILE_PASSES.labels(outcome).inc()
                metrics.RECONCILE_DURATION.labels(outcome).observe(time.perf_counter() - started)
                logcontext.reset(log_fields)
                self.queue.done(app_id)

    # ---- wake-ups ----

    def _enqueue_threadsafe(self, loop: asyncio.AbstractEventLoop) -> Callable[[dict[str, Any]], None]:
        def on_change(obj: dict[str, Any]) -> None:
            app_id = application_id_of(obj)
            if app_id:
                loop.call_soon_threadsafe(self.queue.add, app_id)

        return on_change

    async def resync(self) -> None:
        """Queue every application the database knows and every one the cluster still holds (so
        objects of applications deleted while no reconciler ran are removed too)."""
        assert self.cache is not None
        ids = set(await self.source.application_ids())
        ids.update(filter(None, (application_id_of(o) for o in self.cache["Application"].select(lambda _: True))))
        for app_id in sorted(ids):
            self.queue.add(app_id)

    async def _resync_forever(self) -> None:
        while True:
            await self.resync()
            await asyncio.sleep(self.resync_seconds)

    async def listen_postgres(self) -> None:
        """Wake on NOTIFY from API replicas in other processes; the resync covers any gap."""
        import asyncpg

        url = make_url(self.settings.database_url).set(drivername="postgresql")
        while True:
            try:
                connection = await asyncpg.connect(url.render_as_string(hide_password=False))
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _, closed=closed: closed.set())
                await connection.add_listener(changes.CHANNEL, lambda *args: self.queue.add(str(args[3])))
                await closed.wait()
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("LISTEN %s failed (%s); retrying", changes.CHANNEL, exc)
                await asyncio.sleep(5)

    # ---- lifecycle ----

    def _lease_state(self, leading: bool) -> None:
        self.health.lease = LeaseState.LEADING if leading else LeaseState.STANDBY
        metrics.lease_held(self.elector.name, leading)

    def _unsynced(self) -> list[str]:
        cache = self.cache
        if cache is None:  # a term is starting: its caches do not exist yet
            return list(watched_kinds(self.settings.install_id))
        return [kind for kind, informer in cache.informers.items() if not informer.synced]

    async def _lead(self, stop: asyncio.Event) -> None:
        """Everything a leader runs, until the lease is lost or `stop` is set."""
        loop = asyncio.get_running_loop()
        self.queue = WorkQueue()
        metrics.track_queue(self.queue)
        self.cache = ClusterCache(self.kube, watched_kinds(self.settings.install_id), self._enqueue_threadsafe(loop))
        self.converger = Converger(self.kube, self.cache, render_options(self.settings))
        await asyncio.to_thread(self.cache.start)

        def wake(app_id: str) -> None:
            loop.call_soon_threadsafe(self.queue.add, app_id)

        unsubscribe = changes.bus.subscribe(wake)
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        tasks.append(asyncio.create_task(self._resync_forever()))
        tasks += observer.start(self.settings, self.kube, self.cache, self.source.factory)
        if make_url(self.settings.database_url).get_backend_name() == "postgresql":
            tasks.append(asyncio.create_task(self.listen_postgres()))
        try:
            while not stop.is_set() and self.elector.is_leader():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.elector.renew_seconds)
                if not stop.is_set():
                    self._lease_state(await asyncio.to_thread(self.elector.try_acquire_or_renew))
        finally:
            unsubscribe()
            self.queue.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.cache.stop()
            # The next term starts from empty caches; until they exist, none counts as synced.
            self.cache = None

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("reconciler %s waiting for the lease", self.elector.identity)
        beating = asyncio.create_task(self.health.beat_forever())
        try:
            while not stop.is_set():
                leading = await asyncio.to_thread(self.elector.try_acquire_or_renew)
                self._lease_state(leading)
                if leading:
                    logger.info("reconciler %s is leading", self.elector.identity)
                    await self._lead(stop)
                    if not stop.is_set():
                        logger.warning("reconciler %s lost the lease; standing by", self.elector.identity)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.elector.renew_seconds)
        finally:
            beating.cancel()
            self._lease_state(False)
            await asyncio.to_thread(self.elector.release)
