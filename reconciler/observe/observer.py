"""The observer: what runs, written down for the API.

While the reconciler leads, the observer looks at every process's pods (from the informer cache
the reconciler already keeps) on an interval, and sooner when pods change. For each process it
writes the current instances, the restarts seen since the last look, a sample every
`sample_interval_seconds`, and evaluates the alert rules and the heartbeat deadline; each rule
that flips is recorded with a webhook delivery in one transaction. A second loop sends due
deliveries, signed, to addresses the webhook target policy accepts, retrying with exponential
backoff. CPU and memory come from the cluster's `metrics.k8s.io` API when it has one; without it,
instances simply carry no usage."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.domain import observed, observing, webhook_targets
from controlplane.domain.clock import utcnow
from controlplane.domain.settings import Settings
from controlplane.store.observations import Observations
from reconciler import metrics
from reconciler.k8s import errors
from reconciler.k8s.cache import ClusterCache
from reconciler.k8s.client import Kube
from reconciler.observe import alerts, instances, webhooks
from reconciler.render import labels

logger = logging.getLogger("procplane.observer")

# How often the pod cache is checked for changes between two scheduled observations.
CHANGE_POLL_SECONDS = 1.0
# After the metrics API failed to answer, how long to go without it before asking again.
METRICS_RETRY_SECONDS = 15.0
COMPACT_EVERY_SECONDS = 3600.0
DELIVERY_POLL_SECONDS = 1.0


class Observer:
    def __init__(
        self,
        settings: Settings,
        kube: Kube,
        cache: ClusterCache,
        factory: async_sessionmaker[AsyncSession],
        *,
        clock: Any = None,
        resolver: webhook_targets.Resolver = webhook_targets.system_resolver,
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.cache = cache
        self.store = Observations(factory)
        self.now = clock or utcnow
        self.resolver = resolver
        self.passes = 0
        self.metrics_available: bool | None = None
        self._metrics_retry_at = 0.0
        self._last_compact = 0.0
        self._pods_seen: frozenset[tuple[str, str]] = frozenset()
        self._nodes_failing = False

    # ---- one observation ----

    def _pod_fingerprint(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            (p["metadata"].get("uid", ""), p["metadata"].get("resourceVersion", ""))
            for p in self.cache["Pod"].select(lambda _: True)
        )

    def _usage(self) -> dict[tuple[str, str], observing.Usage]:
        """Pod usage from metrics.k8s.io, or nothing when the cluster has no metrics API."""
        if time.monotonic() < self._metrics_retry_at:
            return {}
        try:
            items, _ = self.kube.list(
                "PodMetrics", label_selector=labels.install_selector(self.settings.install_id, labels.PROCESS_ID)
            )
        except errors.ReconcileError as exc:
            if self.metrics_available is not False:
                logger.info("no pod metrics from metrics.k8s.io (%s); instances carry no usage", exc)
            self.metrics_available = False
            self._metrics_retry_at = time.monotonic() + METRICS_RETRY_SECONDS
            return {}
        if self.metrics_available is not True:
            logger.info("reading pod usage from metrics.k8s.io")
        self.metrics_available = True
        return instances.usage_by_pod(items)

    def _nodes(self) -> dict[str, tuple[dict[str, str], bool]]:
        items, _ = self.kube.list("Node")
        found = {}
        for node in items:
            conditions = node.get("status", {}).get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            found[node["metadata"]["name"]] = (dict(node["metadata"].get("labels") or {}), ready)
        return found

    async def observe(self) -> None:
        """One look at every process."""
        started = time.perf_counter()
        now = self.now()
        self._pods_seen = self._pod_fingerprint()
        usage = await asyncio.to_thread(self._usage)
        try:
            await self.store.record_nodes(await asyncio.to_thread(self._nodes), now)
            self._nodes_failing = False
        except errors.ReconcileError as exc:
            if not self._nodes_failing:  # once per outage, not once per pass
                logger.warning("listing nodes failed (%s); node routing shows the last nodes seen", exc)
            self._nodes_failing = True
        window = self.settings.restart_alert_window_seconds
        for process in await self.store.watched(now, window):
            await self._observe_process(process, now, usage)
        self.passes += 1
        metrics.OBSERVER_PASS_DURATION.observe(time.perf_counter() - started)
        metrics.observed()
        if time.monotonic() - self._last_compact > COMPACT_EVERY_SECONDS:
            await self.store.compact(now, self.settings.sample_raw_retention_hours, self.settings.sample_retention_days)
            self._last_compact = time.monotonic()

    async def _observe_process(
        self, process: observing.Watched, now: datetime, usage: dict[tuple[str, str], observing.Usage]
    ) -> None:
        pods = self.cache["Pod"].select(lambda o: _of_process(o, process.id))
        current = [
            instances.from_pod(pod, usage.get((process.namespace, pod["metadata"]["name"])), process.limits)
            for pod in pods
        ]
        current.sort(key=lambda i: i.name)
        restarts = instances.restarts_between(process.previous, current)
        summary = instances.aggregate(current, process.limits)
        interval = self.settings.sample_interval_seconds
        due = process.last_sample_at is None or now - process.last_sample_at >= timedelta(seconds=interval)
        seen = observing.Observation(
            state=process.state,
            ready_count=summary.ready_count,
            restarts_in_window=process.restarts_in_window + sum(r.count for r in restarts),
            cpu_pct=summary.cpu_pct,
            memory_pct=summary.memory_pct,
            heartbeat=process.heartbeat,
        )
        verdicts = alerts.evaluate(process.rules, seen, self.settings.restart_alert_window_seconds)
        changes = alerts.transitions(process.firing, verdicts)
        firing = any(v.firing for v in verdicts.values())
        payload = {
            "process": {
                "id": process.id,
                "app_id": process.app_id,
                "application": process.app_name,
                "key": process.key,
                "type": process.type,
                "status": observed.presented_state(process.state, firing),
                "instances": summary.count,
                "ready_instances": summary.ready_count,
                "heartbeat": process.heartbeat,
            }
        }
        await self.store.record(process, now, current, restarts, summary if due else None, interval, changes, payload)
        for change in changes:
            logger.info("process %s/%s: %s %s (%s)", process.app_name, process.key, change.rule, change.event,
                        change.message)  # fmt: skip

    # ---- loops ----

    async def run(self) -> None:
        """Observe on the interval, and within a second of any pod change."""
        last = 0.0
        while True:
            changed = self._pod_fingerprint() != self._pods_seen
            if changed or time.monotonic() - last >= self.settings.observe_interval_seconds:
                last = time.monotonic()
                try:
                    await self.observe()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the observer must outlive a bad pass; the next one retries
                    logger.exception("observation pass failed")
            await asyncio.sleep(min(CHANGE_POLL_SECONDS, self.settings.observe_interval_seconds))

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Send every delivery that is due; the number sent successfully."""
        return await webhooks.deliver_due(self.store, self.settings, client, self.now, self.resolver)

    async def run_deliveries(self) -> None:
        async with webhooks.client(self.settings.webhook_timeout_seconds) as client:
            while True:
                try:
                    await self.deliver_due(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("webhook delivery pass failed")
                await asyncio.sleep(DELIVERY_POLL_SECONDS)


def _of_process(pod: dict[str, Any], process_id: str) -> bool:
    return bool((pod.get("metadata", {}).get("labels") or {}).get(labels.PROCESS_ID) == process_id)


def start(
    settings: Settings, kube: Kube, cache: ClusterCache, factory: async_sessionmaker[AsyncSession]
) -> list[asyncio.Task[None]]:
    """The observer's tasks, for the reconciler to run while it leads."""
    observer = Observer(settings, kube.sibling(), cache, factory)
    return [asyncio.create_task(observer.run()), asyncio.create_task(observer.run_deliveries())]
