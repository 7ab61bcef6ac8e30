"""The reconciler against the real local cluster: API call -> objects -> pods -> status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.stack import Stack, running_stack
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, KubeError, eventually


@pytest.fixture
def stack(tmp_path: Path, kube_cluster: launcher.LocalCluster, kube: Kube) -> Iterator[Stack]:
    with running_stack(tmp_path, kube_cluster, kube) as running:
        yield running


def namespace_of(stack: Stack, app_id: str) -> str:
    return str(stack.api.get(f"/v1/applications/{app_id}").json()["namespace"])


def deployment(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def test_web_process_runs_and_reports_up(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("shop", "web: npm start\n")
    ns = namespace_of(stack, app["id"])
    found = eventually(lambda: deployment(stack.kube, ns, "shop-web"), what="Deployment shop-web")
    labels = stack.kube.get(f"/api/v1/namespaces/{ns}")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    container = found["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["command"] == ["/bin/sh", "-c", "npm start"]
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert found["metadata"]["ownerReferences"][0]["kind"] == "Process"
    service = stack.kube.get(f"/api/v1/namespaces/{ns}/services/shop-web")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["ports"][0]["appProtocol"] == "http"
    process = stack.wait_status(app["id"], "web", "up", ready=1)
    assert process["desired_instances"] == 1
    assert process["observed_generation"] == process["generation"]
    assert {c["type"]: c["status"] for c in process["conditions"]}["Ready"] == "True"
    cr = stack.kube.get(f"/apis/procplane.dev/v1alpha1/namespaces/{ns}/processes/shop-web")
    assert cr["status"]["state"] == "up"
    assert cr["status"]["internalHostname"] == f"shop-web.{ns}.svc.cluster.local"


def test_scaling_up_and_down(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("scaler", "worker: node worker.js\n")
    worker = stack.wait_status(app["id"], "worker", "up", ready=1)
    path = f"/v1/applications/{app['id']}/processes/{worker['id']}"
    for count in (3, 1, 0):
        body = {"scaling_strategy": {"type": "manual", "config": {"instanceCount": count}}}
        assert stack.api.patch(path, json=body).status_code == 200
        stack.wait_status(app["id"], "worker", "paused" if count == 0 else "up", ready=count)
    ns = namespace_of(stack, app["id"])
    pods = stack.kube.items(f"/api/v1/namespaces/{ns}/pods")
    eventually(lambda: not stack.kube.items(f"/api/v1/namespaces/{ns}/pods"), what="no pods left")
    assert isinstance(pods, list)


def test_cron_with_time_zone_and_trigger(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.api.create_app("clock", image="busybox:1.36")
    created = stack.api.create_process(
        app["id"], key="report", type="cron", entrypoint="echo hi", schedule="0 6 * * *", time_zone="America/New_York"
    )
    ns = namespace_of(stack, app["id"])

    def cronjob() -> dict[str, Any] | None:
        items = stack.kube.items(f"/apis/batch/v1/namespaces/{ns}/cronjobs")
        return items[0] if items else None

    found = eventually(cronjob, what="the CronJob")
    assert found["spec"]["schedule"] == "0 6 * * *"
    assert found["spec"]["timeZone"] == "America/New_York"
    assert found["spec"]["concurrencyPolicy"] == "Forbid"
    base = f"/v1/applications/{app['id']}/processes/{created['id']}"
    triggered = stack.api.post(f"{base}/trigger")
    assert triggered.status_code == 200, triggered.text
    assert triggered.json()["message"].startswith("Cron process")
    run_id = stack.api.get(f"{base}/runs").json()["data"][0]["id"]

    def job_name() -> str | None:
        runs = stack.api.get(f"{base}/runs").json()["data"]
        return next((r["job_name"] for r in runs if r["id"] == run_id and r["job_name"]), None)

    name = eventually(job_name, what="the run's Job")
    job = stack.kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    eventually(
        lambda: stack.kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}").get("status", {}).get("succeeded"),
        what="the triggered Job to complete",
    )
    worker = stack.api.create_process(app["id"], key="worker", type="worker", entrypoint="sleep 1d")
    refused = stack.api.post(f"/v1/applications/{app['id']}/processes/{worker['id']}/trigger")
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {
        "field": "type",
        "code": "not_allowed_for_type",
        "message": "only cron processes run on demand, not worker",
    }


def test_hand_edits_are_reverted(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("drifty", "worker: run\n")
    stack.wait_status(app["id"], "worker", "up", ready=1)
    ns = namespace_of(stack, app["id"])
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/drifty-worker"
    stack.kube.apply(path, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "drifty-worker"},
                            "spec": {"replicas": 4}}, manager="someone")  # fmt: skip
    eventually(lambda: stack.kube.get(path)["spec"]["replicas"] == 1, what="replicas back to 1")


def test_deleting_processes_and_applications_leaves_nothing(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("gone", "web: serve\nworker: work\n")
    worker = stack.wait_status(app["id"], "worker", "up", ready=1)
    ns = namespace_of(stack, app["id"])
    assert stack.api.delete(f"/v1/applications/{app['id']}/processes/{worker['id']}").status_code == 200
    eventually(lambda: deployment(stack.kube, ns, "gone-worker") is None, what="worker Deployment gone")
    eventually(
        lambda: not [p for p in stack.kube.items(f"/api/v1/namespaces/{ns}/pods") if "worker" in p["metadata"]["name"]],
        what="worker pods gone",
    )
    assert deployment(stack.kube, ns, "gone-web") is not None
    assert stack.api.delete(f"/v1/applications/{app['id']}").status_code == 200

    def namespace_gone() -> bool:
        try:
            stack.kube.get(f"/api/v1/namespaces/{ns}")
        except KubeError as exc:
            return exc.status == 404
        return False

    eventually(namespace_gone, timeout=90, what=f"namespace {ns} gone")
    leftovers = stack.kube.items(
        "/apis/procplane.dev/v1alpha1/applications", labelSelector=f"procplane.dev/application-id={app['id']}"
    )
    assert leftovers == []


def test_second_pass_over_converged_app_writes_nothing(stack: Stack) -> None:
    replica = stack.start_reconciler()
    app = stack.app_with_procfile("calm", "web: a\nworker: b\n")
    stack.wait_status(app["id"], "web", "up", ready=1)
    stack.wait_status(app["id"], "worker", "up", ready=1)
    replica.reconcile_now(app["id"])
    before = replica.writes
    requests_before = replica.reconciler.kube.requests.total
    replica.reconcile_now(app["id"])
    replica.reconcile_now(app["id"])
    assert replica.writes == before
    assert replica.reconciler.kube.requests.total == requests_before


def test_rejected_spec_is_degraded_without_hot_loop(stack: Stack) -> None:
    """A spec the apiserver refuses. The API's validation would stop it, so the row is written
    straight into the database, as a spec stored by an older, laxer procplane would be."""
    import sqlite3

    replica = stack.start_reconciler()
    app = stack.app_with_procfile("broken", "worker: run\n")
    worker = stack.wait_status(app["id"], "worker", "up", ready=1)
    database = stack.settings.database_url.split(":///", 1)[1]
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE processes SET scaling_strategy = ?, generation = generation + 1 WHERE id = ?",
            ('{"type": "manual", "config": {"instanceCount": -1}}', worker["id"]),
        )
    replica.reconcile_now(app["id"])
    process = stack.process(app["id"], "worker")
    degraded = {c["type"]: c for c in process["conditions"]}["Degraded"]
    assert degraded["status"] == "True"
    assert degraded["reason"] == "ApplyRejected"
    assert "instanceCount" in degraded["message"] or "replicas" in degraded["message"]
    assert process["observed_generation"] == worker["generation"]
    writes = replica.writes
    replica.reconcile_now(app["id"])
    replica.reconcile_now(app["id"])
    assert replica.writes == writes  # the refused manifest is not sent again
    assert stack.process(app["id"], "worker")["conditions"] == process["conditions"]


def test_two_replicas_never_both_write(stack: Stack) -> None:
    first, second = stack.start_reconciler(), stack.start_reconciler()
    leader = stack.leader()
    follower = second if leader is first else first
    app = stack.app_with_procfile("pair", "worker: run\n")
    worker = stack.wait_status(app["id"], "worker", "up", ready=1)
    assert leader.writes > 0
    assert follower.writes == 0
    assert not follower.reconciler.elector.is_leader()
    leader.stop()
    eventually(follower.is_leading, timeout=30, what="the follower to take over")
    body = {"scaling_strategy": {"type": "manual", "config": {"instanceCount": 2}}}
    assert stack.api.patch(f"/v1/applications/{app['id']}/processes/{worker['id']}", json=body).status_code == 200
    stack.wait_status(app["id"], "worker", "up", ready=2)
    assert follower.writes > 0


def test_reconciler_killed_mid_pass_converges_after_restart(stack: Stack) -> None:
    """The crash is injected (a real crash cannot be timed to land mid-pass): the first replica
    may write four times, then every write fails as if the process had died there."""
    crashing = stack.start_reconciler(write_allowed=lambda r: lambda: r.kube.requests.writes < 4)
    app = stack.app_with_procfile("phoenix", "web: a\nworker: b\nmailer: c\n")
    eventually(lambda: crashing.writes >= 4, what="the first writes")
    ns = namespace_of(stack, app["id"])
    made = [n for n in ("phoenix-web", "phoenix-worker", "phoenix-mailer") if deployment(stack.kube, ns, n)]
    assert len(made) < 3, "the crash should have left the application half-applied"
    crashing.stop()
    stack.start_reconciler()
    for key in ("web", "worker", "mailer"):
        stack.wait_status(app["id"], key, "up", ready=1)
