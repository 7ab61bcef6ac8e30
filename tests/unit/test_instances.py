"""Pods to instance records, usage from metrics.k8s.io, restarts between looks, sample aggregates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from controlplane.domain import observing
from reconciler.observe import instances

LIMITS = observing.Limits(cpu_millicores=500, memory_bytes=512 * 1024 * 1024)


def pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "ns", "uid": "u1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "kwok-node-1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "startTime": "2026-01-01T00:00:01Z", **status},
    }


RUNNING = {
    "name": "app",
    "image": "nginx:1.27",
    "restartCount": 0,
    "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("250m", "0.25"), ("2", "2"), ("12345n", "0.000012345"), ("1Ki", "1024"), ("128Mi", str(128 * 1024**2)),
     ("1G", "1000000000"), ("1.5", "1.5"), ("100u", "0.0001")],
)  # fmt: skip
def test_parse_quantity(value: str, expected: str) -> None:
    assert instances.parse_quantity(value) == Decimal(expected)


@pytest.mark.parametrize("value", ["", "abc", "1Xi", "--1"])
def test_parse_quantity_refuses_garbage(value: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        instances.parse_quantity(value)


def test_a_running_ready_pod() -> None:
    found = instances.from_pod(pod(conditions=[{"type": "Ready", "status": "True"}], containerStatuses=[RUNNING]))
    assert found.name == "web-1"
    assert found.node == "kwok-node-1"
    assert (found.phase, found.state, found.state_reason, found.ready) == ("Running", "running", None, True)
    assert found.restarts == 0
    assert found.image == "nginx:1.27"
    assert found.started_at == datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert found.last_termination_reason is None
    assert found.cpu_millicores is None


def test_a_crash_looping_pod_reports_its_last_termination() -> None:
    container = {
        "name": "app",
        "image": "nginx:1.27",
        "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T00:05:00Z"}},
    }
    found = instances.from_pod(pod(conditions=[{"type": "Ready", "status": "False"}], containerStatuses=[container]))
    assert (found.state, found.state_reason, found.ready, found.restarts) == ("waiting", "CrashLoopBackOff", False, 4)
    assert (found.last_termination_reason, found.last_exit_code) == ("OOMKilled", 137)
    assert found.last_terminated_at == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert found.started_at == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)  # the pod's start: nothing runs


def test_pending_and_terminating_pods() -> None:
    pending = instances.from_pod({"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Pending"}})
    assert (pending.state, pending.node, pending.image) == ("pending", None, None)
    gone = pod(containerStatuses=[RUNNING])
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    assert instances.from_pod(gone).state == "terminating"


def test_usage_and_percent_of_limits() -> None:
    metrics = [
        {
            "metadata": {"name": "web-1", "namespace": "ns"},
            "containers": [
                {"name": "app", "usage": {"cpu": "125000000n", "memory": "64Mi"}},
                {"name": "sidecar", "usage": {"cpu": "25m", "memory": "64Mi"}},
            ],
        },
        {"metadata": {"name": "broken", "namespace": "ns"}, "containers": [{"usage": {"cpu": "lots"}}]},
    ]
    usage = instances.usage_by_pod(metrics)
    assert set(usage) == {("ns", "web-1")}
    found = instances.from_pod(pod(containerStatuses=[RUNNING]), usage[("ns", "web-1")], LIMITS)
    assert (found.cpu_millicores, found.memory_bytes) == (150.0, 128 * 1024**2)
    assert (found.cpu_pct, found.memory_pct) == (30.0, 25.0)


def test_restarts_between_looks() -> None:
    now = [
        instances.from_pod(pod(containerStatuses=[{**RUNNING, "restartCount": 3}])),
    ]
    assert instances.restarts_between({"web-1": ("u1", 1)}, now)[0].count == 2
    assert instances.restarts_between({"web-1": ("u1", 3)}, now) == []
    # A new pod of the same name (a StatefulSet would do that) counts from zero.
    assert instances.restarts_between({"web-1": ("old-uid", 5)}, now)[0].count == 3
    assert instances.restarts_between({}, now)[0].count == 3


def test_aggregate_counts_live_instances_and_shares_of_their_limits() -> None:
    usage = observing.Usage(cpu_millicores=250.0, memory_bytes=256 * 1024**2)
    ready = {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [RUNNING]}
    live = instances.from_pod(pod(**ready), usage, LIMITS)
    unmeasured = instances.from_pod(pod(containerStatuses=[RUNNING]))
    finished = instances.from_pod(pod(phase="Succeeded", containerStatuses=[RUNNING]), usage, LIMITS)
    summary = instances.aggregate([live, unmeasured, finished], LIMITS)
    assert (summary.count, summary.ready_count) == (2, 1)
    assert summary.cpu_millicores == 250.0
    assert summary.cpu_pct == 50.0  # of the one measured instance's limit
    assert summary.memory_pct == 50.0
    assert summary.oldest_start_unix == int(datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC).timestamp())
    empty = instances.aggregate([], LIMITS)
    assert (empty.count, empty.cpu_millicores, empty.cpu_pct, empty.oldest_start_unix) == (0, None, None, None)
