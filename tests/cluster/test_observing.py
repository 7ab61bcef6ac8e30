"""Observing against the real local cluster: KWOK makes pods restart, crash and recover (the
`procplane.dev/simulate` annotation, put on the running pod), the observer records it, the status
moves, and exactly one signed webhook per transition reaches a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from reconciler.observe import webhooks
from tests.cluster.stack import Stack, running_stack
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, eventually

SIMULATE = "procplane.dev/simulate"


class Receiver:
    """A webhook endpoint: records every request; answers 500 to the first `fail_first` ones."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[tuple[str, str]]:
        """(rule, event) of each delivery accepted, in order, without retries of one delivery."""
        seen: dict[str, tuple[str, str]] = {}
        for headers, body in self.requests:
            payload = json.loads(body)
            seen[headers[webhooks.DELIVERY_HEADER]] = (payload["rule"], payload["event"])
        return list(seen.values())

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@contextmanager
def observing_stack(tmp_path: Path, cluster: launcher.LocalCluster, kube: Kube) -> Iterator[Stack]:
    with running_stack(
        tmp_path,
        cluster,
        kube,
        observe_interval_seconds=1.0,
        sample_interval_seconds=1,
        restart_alert_window_seconds=8,
        webhook_retry_base_seconds=1.0,
        # The receiver listens on loopback, which webhooks may reach only when the operator allows it.
        webhook_allowed_networks=("127.0.0.0/8",),
    ) as stack:
        yield stack


@pytest.fixture
def stack(tmp_path: Path, kube_cluster: launcher.LocalCluster, kube: Kube) -> Iterator[Stack]:
    with observing_stack(tmp_path, kube_cluster, kube) as running:
        yield running


def base(process: dict[str, Any]) -> str:
    return f"/v1/applications/{process['app_id']}/processes/{process['id']}"


def instances(stack: Stack, process: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.api.get(f"{base(process)}/instances").json()["data"]
    return found


def only_instance(stack: Stack, process: dict[str, Any]) -> dict[str, Any] | None:
    found = [i for i in instances(stack, process) if i["state"] != "terminating"]
    return found[0] if len(found) == 1 else None


def annotate(stack: Stack, namespace: str, pod: str, annotations: dict[str, str]) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "annotations": annotations}}
    stack.kube.apply(path, manifest, manager="procplane-test")


def test_restart_crash_and_recovery_move_status_and_notify_once(stack: Stack, receiver: Receiver) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("watched", "worker: run\n")
    process = stack.wait_status(app["id"], "worker", "up", ready=1)
    rules = stack.api.patch(
        f"{base(process)}/alert-rules", json={"alert_on_restart": True, "webhook_url": receiver.url}
    ).json()
    first = eventually(lambda: only_instance(stack, process), what="the instance recorded")
    assert first["node"] in stack.cluster.node_names
    assert (first["state"], first["ready"], first["restarts"]) == ("running", True, 0)
    assert first["image"] == "nginx:1.27"
    assert first["started_at"] is not None

    # A restart: counted, alerting while the window lasts, one notification each way.
    annotate(stack, first["namespace"], first["name"], {SIMULATE: "restart"})
    restarted = eventually(
        lambda: (i := only_instance(stack, process)) and i["restarts"] == 1 and i, what="the restart recorded"
    )
    assert restarted["last_termination_reason"] == "Error"
    assert restarted["last_exit_code"] == 1
    stack.wait_status(app["id"], "worker", "alerting", timeout=30)
    eventually(lambda: receiver.events() == [("restart", "alert.fired")], what="the restart alert")
    stack.wait_status(app["id"], "worker", "up", timeout=30)
    eventually(lambda: len(receiver.events()) == 2, what="the restart resolution")
    assert receiver.events()[1] == ("restart", "alert.resolved")
    samples = stack.api.get(f"{base(process)}/samples").json()
    assert samples["recent_restarts"] == 1
    assert samples["total"] >= 2

    # Every delivery is signed with the process's secret.
    headers, body = receiver.requests[0]
    assert webhooks.verify(rules["webhook_secret"], headers[webhooks.SIGNATURE_HEADER], body)
    assert not webhooks.verify("whsec_wrong", headers[webhooks.SIGNATURE_HEADER], body)
    payload = json.loads(body)
    assert payload["process"]["key"] == "worker"
    assert payload["process"]["application"] == "watched"

    # A crash loop: no instance ready, so down, and a down alert exactly once while it lasts.
    annotate(stack, first["namespace"], first["name"], {SIMULATE: "crashloop", "procplane.dev/simulate-delay": "1s"})
    stack.wait_status(app["id"], "worker", "down", timeout=60)
    eventually(lambda: ("down", "alert.fired") in receiver.events(), what="the down alert")
    looping = eventually(
        lambda: (i := only_instance(stack, process)) and i["restarts"] >= 3 and i, what="restarts counted"
    )
    assert looping["state"] == "waiting"
    assert looping["state_reason"] == "CrashLoopBackOff"
    assert looping["ready"] is False
    assert receiver.events().count(("down", "alert.fired")) == 1

    # Recovery: the broken pod is replaced by a healthy one.
    stack.kube.delete(f"/api/v1/namespaces/{first['namespace']}/pods/{first['name']}")
    stack.wait_status(app["id"], "worker", "up", ready=1, timeout=60)
    eventually(lambda: ("down", "alert.resolved") in receiver.events(), what="the down resolution")
    fresh = eventually(
        lambda: (i := only_instance(stack, process)) and i["name"] != first["name"] and i, what="the new instance"
    )
    assert fresh["restarts"] == 0
    eventually(lambda: receiver.events()[-1] == ("restart", "alert.resolved"), timeout=30, what="all resolved")
    events = receiver.events()
    for rule in ("down", "restart"):
        fired = [e for r, e in events if r == rule]
        # Alternating fired/resolved: never two notifications for one state.
        assert fired == ["alert.fired", "alert.resolved"] * (len(fired) // 2), events
    assert events.count(("down", "alert.fired")) == 1
    stack.wait_status(app["id"], "worker", "up", timeout=30)
    deliveries = stack.api.get(f"{base(process)}/webhook-deliveries").json()["data"]
    assert len(deliveries) == len(events)
    assert {d["status"] for d in deliveries} == {"delivered"}
    # Every restart of the crashed pod, the first included, within 24 hours.
    assert stack.api.get(f"{base(process)}/samples").json()["recent_restarts"] >= looping["restarts"]
    series = stack.api.get(f"{base(process)}/metrics/instance-count", params={"interval_in_seconds": "60"}).json()
    assert any(point["value"] for point in series)


def test_heartbeat_dies_and_is_resurrected_with_retried_webhooks(stack: Stack) -> None:
    receiver = Receiver(fail_first=1)
    try:
        stack.start_reconciler()
        app = stack.app_with_procfile("pulse", "worker: run\n")
        process = stack.wait_status(app["id"], "worker", "up", ready=1)
        stack.api.patch(f"{base(process)}/alert-rules", json={"webhook_url": receiver.url})
        token = stack.api.put(f"{base(process)}/heartbeat", json={"interval_seconds": 3}).json()["token"]
        pinger = stack.api.as_key(token)
        ping = f"{base(process)}/actions/ping"
        assert pinger.post(ping).json()["status"] == "ALIVE"

        # Missed window: DEAD, the process alerts, one notification (retried once after a 500).
        stack.wait_status(app["id"], "worker", "alerting", timeout=20)
        assert stack.process(app["id"], "worker")["heartbeat_status"] == "DEAD"
        eventually(lambda: receiver.events() == [("heartbeat", "alert.fired")], what="the death notification")
        eventually(lambda: len(receiver.requests) == 2, what="the retry after a 500")
        deliveries = stack.api.get(f"{base(process)}/webhook-deliveries").json()["data"]
        eventually(
            lambda: stack.api.get(f"{base(process)}/webhook-deliveries").json()["data"][0]["status"] == "delivered",
            what="the delivery recorded as delivered",
        )
        deliveries = stack.api.get(f"{base(process)}/webhook-deliveries").json()["data"]
        assert deliveries[0]["attempts"] == 2
        assert deliveries[0]["last_status_code"] == 204

        # A ping after death: RESURRECTED, then ALIVE; the alert resolves once.
        assert pinger.post(ping).json()["status"] == "RESURRECTED"
        stack.wait_status(app["id"], "worker", "up", timeout=20)
        eventually(lambda: len(receiver.events()) == 2, what="the resurrection notification")
        assert receiver.events()[1] == ("heartbeat", "alert.resolved")
        assert pinger.post(ping).json()["status"] == "ALIVE"
        assert msgspec.json.decode(receiver.requests[-1][1])["process"]["heartbeat"] == "RESURRECTED"
    finally:
        receiver.close()


def test_nodes_route_to_their_instances(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("spread", "worker: run\n")
    process = stack.wait_status(app["id"], "worker", "up", ready=1)
    body = {"scaling_strategy": {"type": "manual", "config": {"instanceCount": 3}}}
    assert stack.api.patch(base(process), json=body).status_code == 200
    stack.wait_status(app["id"], "worker", "up", ready=3)
    eventually(lambda: len(instances(stack, process)) == 3, what="three instances recorded")
    placed = {i["name"]: i["node"] for i in instances(stack, process)}

    def names(route: str) -> set[str]:
        results = stack.api.get(f"/v1/nodes/{route}/instances").json()["results"]
        return {i["name"] for r in results for i in r["instances"] if i["process_id"] == process["id"]}

    assert names("_all") == set(placed)
    node = next(iter(placed.values()))
    assert names(node) == {n for n, where in placed.items() if where == node}
    zone = stack.kube.get(f"/api/v1/nodes/{node}")["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert names(f"topology.kubernetes.io/zone:{zone}") >= names(node)


def test_cpu_and_memory_come_from_the_metrics_api(stack: Stack, receiver: Receiver) -> None:
    """Usage is real metrics.k8s.io data: metrics-server (built from its Go module) scrapes the
    usage KWOK simulates for each pod from its procplane.dev/usage-* annotations."""
    stack.cluster.wait_for_metrics()
    stack.start_reconciler()
    app = stack.app_with_procfile("busy", "worker: run\n")
    process = stack.wait_status(app["id"], "worker", "up", ready=1)
    body = {"alert_on_cpu": True, "cpu_threshold_pct": 50, "alert_on_memory": True, "memory_threshold_pct": 90,
            "webhook_url": receiver.url}  # fmt: skip
    assert stack.api.patch(f"{base(process)}/alert-rules", json=body).status_code == 200
    pod = eventually(lambda: only_instance(stack, process), what="the instance recorded")
    annotate(stack, pod["namespace"], pod["name"], {"procplane.dev/usage-cpu": "400m",
                                                    "procplane.dev/usage-memory": "128Mi"})  # fmt: skip

    def busy() -> dict[str, Any] | None:
        found = only_instance(stack, process)
        return found if found and (found["cpu_millicores"] or 0) > 300 else None

    measured = eventually(busy, timeout=90, what="the pod's CPU from metrics.k8s.io")
    assert measured["cpu_millicores"] == pytest.approx(400, rel=0.15)
    assert measured["cpu_pct"] == pytest.approx(80, rel=0.15)  # of s1's 500 millicores
    assert measured["memory_bytes"] == 128 * 1024 * 1024
    assert measured["memory_pct"] == 25.0  # of s1's 512 MB
    stack.wait_status(app["id"], "worker", "alerting", timeout=30)
    eventually(lambda: receiver.events() == [("cpu", "alert.fired")], what="the CPU alert")
    shown = stack.process(app["id"], "worker")
    assert shown["alerted_state"] == ["cpu"]
    assert shown["last_cpu_pct"] == pytest.approx(80, rel=0.15)

    annotate(stack, pod["namespace"], pod["name"], {"procplane.dev/usage-cpu": "50m",
                                                    "procplane.dev/usage-memory": "128Mi"})  # fmt: skip
    stack.wait_status(app["id"], "worker", "up", timeout=90)
    eventually(lambda: receiver.events() == [("cpu", "alert.fired"), ("cpu", "alert.resolved")], what="resolved")
    series = stack.api.get(f"{base(process)}/metrics/cpu-usage", params={"interval_in_seconds": "10"}).json()
    values = [p["value"] for p in series]
    assert max(values) == pytest.approx(400, rel=0.15)
    memory = stack.api.get(f"{base(process)}/metrics/memory-usage", params={"interval_in_seconds": "60"}).json()
    assert max(p["value"] for p in memory) == 128 * 1024 * 1024
