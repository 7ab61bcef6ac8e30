"""The reconciler's Prometheus metrics (the apiserver's requests are counted where they are sent,
in `reconciler.k8s.client`). Module-level: one set per process, however many reconcilers a test
starts; gauges that describe a running reconciler are read from the live ones at scrape time."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from enum import StrEnum
from typing import Protocol

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# The `_created` series (when each labelled series appeared) only double what is scraped.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Outcome(StrEnum):
    """How a reconcile pass ended."""

    CONVERGED = "converged"  # the pass did all it had to
    RETRY = "retry"  # a temporary error: the application is queued again after a backoff
    ERROR = "error"  # an unexpected failure: queued again after a backoff, logged with its trace
    NOT_LEADER = "not_leader"  # the lease was lost mid-pass; the new leader redoes it


RECONCILE_DURATION = Histogram(
    "procplane_reconcile_duration_seconds",
    "Time a reconcile pass over one application took, by outcome.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
RECONCILE_PASSES = Counter("procplane_reconcile_total", "Reconcile passes, by outcome.", ["outcome"])
QUEUE_WAIT = Histogram(
    "procplane_queue_wait_seconds",
    "Time an application waited in the work queue, ready, before a worker took it.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0),
)
OBSERVER_PASS_DURATION = Histogram(
    "procplane_observer_pass_duration_seconds",
    "Time one observation of every process's pods took.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
WEBHOOK_DELIVERIES = Counter(
    "procplane_webhook_deliveries_total",
    "Alert webhook delivery attempts, by result: delivered, retry (will be tried again), failed "
    "(out of attempts) or refused (a target the policy forbids).",
    ["result"],
)


class QueueLike(Protocol):
    def __len__(self) -> int: ...

    def oldest_wait(self) -> float: ...

    @property
    def shutting_down(self) -> bool: ...


class _Live(Collector):
    """The gauges of the reconcilers running in this process, read when Prometheus scrapes:
    queue depth and age, lease held, and how long ago the observer last finished a pass."""

    def __init__(self) -> None:
        self.queues: weakref.WeakSet[QueueLike] = weakref.WeakSet()
        self.leases: dict[str, bool] = {}
        self.observed_at: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # A term's queue is shut down when the term ends, keys and all: it no longer counts.
        queues = [queue for queue in self.queues if not queue.shutting_down]
        yield GaugeMetricFamily(
            "procplane_queue_depth", "Applications waiting, ready, in the work queue.", sum(len(q) for q in queues)
        )
        yield GaugeMetricFamily(
            "procplane_queue_oldest_wait_seconds",
            "How long the application waiting longest in the work queue has waited.",
            max((q.oldest_wait() for q in queues), default=0.0),
        )
        held = GaugeMetricFamily(
            "procplane_lease_held", "1 while this process holds the lease, by lease.", labels=["lease"]
        )
        for lease, leading in sorted(self.leases.items()):
            held.add_metric([lease], 1.0 if leading else 0.0)
        yield held
        if self.observed_at is not None:
            yield GaugeMetricFamily(
                "procplane_observer_lag_seconds",
                "Seconds since the observer last finished looking at every process's pods.",
                time.monotonic() - self.observed_at,
            )


_live = _Live()
REGISTRY.register(_live)


def track_queue(queue: QueueLike) -> None:
    """Count `queue` in the depth and age gauges while it lives."""
    _live.queues.add(queue)


def lease_held(lease: str, held: bool) -> None:
    _live.leases[lease] = held


def observed() -> None:
    """The observer finished a pass now."""
    _live.observed_at = time.monotonic()
