"""The reconciler's probe answers (`reconciler.health.Health`) and the queue's wait figures."""

from __future__ import annotations

import argparse
import asyncio
import socket
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from reconciler import metrics
from reconciler.health import Health, LeaseState
from reconciler.k8s.queue import WorkQueue


def test_alive_only_while_the_loop_beats() -> None:
    health = Health()
    assert health.liveness() == (False, {"status": "not_running"})
    health.beat()
    assert health.liveness()[0] is True
    health.stopped()
    assert health.liveness() == (False, {"status": "not_running"})
    # A beat older than allowed (here: any beat at all) means the loop has stalled.
    impatient = Health(stale_after_seconds=0.0)
    impatient.beat()
    assert impatient.liveness()[0] is False
    assert impatient.liveness()[1]["status"] == "stalled"


def test_ready_as_standby_or_as_a_leader_with_every_cache_synced() -> None:
    health = Health()
    health.beat()
    assert health.readiness() == (False, {"status": "not_ready", "lease": "unknown"})
    health.lease = LeaseState.STANDBY
    assert health.readiness() == (True, {"status": "ok", "lease": "standby"})
    unsynced = ["Pod", "Job"]
    health.unsynced = lambda: list(unsynced)
    health.lease = LeaseState.LEADING
    ready, body = health.readiness()
    assert (ready, body["caches_synced"], body["unsynced_kinds"]) == (False, False, ["Pod", "Job"])
    unsynced.clear()
    assert health.readiness() == (True, {"status": "ok", "lease": "leading", "caches_synced": True,
                                         "unsynced_kinds": []})  # fmt: skip
    health.stopped()
    assert health.readiness()[0] is False


def test_the_queue_knows_its_oldest_wait_and_each_keys_wait() -> None:
    async def scenario() -> tuple[float, float, float]:
        queue = WorkQueue()
        empty = queue.oldest_wait()
        queue.add("a")
        await asyncio.sleep(0.02)
        queue.add("b")
        oldest = queue.oldest_wait()
        assert await queue.get() == "a"
        return empty, oldest, queue.last_wait

    empty, oldest, waited = asyncio.run(scenario())
    assert empty == 0.0
    # Lower bounds only: "a" had waited at least the sleep when it was looked at, and taken.
    assert oldest >= 0.02
    assert waited >= oldest


def test_a_taken_health_port_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """Several reconcilers on one machine (tests, a developer's) must not die over the port."""
    from procplane import commands

    replica = SimpleNamespace(health=Health())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = argparse.Namespace(health_host="127.0.0.1", health_port=taken.getsockname()[1])
        with commands._health_server(replica, args):
            ran = True
    assert ran
    assert "choose another --health-port" in caplog.text


def test_queue_depth_counts_the_live_queues_only() -> None:
    def depth() -> float:
        value = REGISTRY.get_sample_value("procplane_queue_depth")
        assert value is not None
        return value

    async def scenario() -> tuple[float, float, float]:
        before = depth()
        queue = WorkQueue()
        metrics.track_queue(queue)
        queue.add("a")
        queue.add("b")
        queue.add("a")  # a key waits once
        during = depth()
        queue.shutdown()  # the term ended: its keys are dropped
        return before, during, depth()

    before, during, after = asyncio.run(scenario())
    assert during - before == 2
    assert after == before
