"""KWOK stages let a test choose how a pod misbehaves (annotation procplane.dev/simulate)."""

from __future__ import annotations

from typing import Any

from tests.cluster import workloads
from tests.support.localcluster.testing import Kube, eventually

SIMULATE = "procplane.dev/simulate"


def only_pod(kube: Kube, ns: str, selector: str) -> dict[str, Any] | None:
    found = kube.items(f"/api/v1/namespaces/{ns}/pods", labelSelector=selector)
    return found[0] if len(found) == 1 else None


def container(pod: dict[str, Any]) -> dict[str, Any]:
    statuses: list[dict[str, Any]] = pod["status"].get("containerStatuses", [])
    return statuses[0] if statuses else {}


def test_fail_makes_a_jobs_pod_exit_nonzero_and_the_job_fail(kube: Kube, kube_namespace: str) -> None:
    annotations = {SIMULATE: "fail", "procplane.dev/simulate-exit-code": "3"}
    jobs = f"/apis/batch/v1/namespaces/{kube_namespace}/jobs"
    kube.create(jobs, workloads.job("broken", backoff_limit=0, annotations=annotations))

    job = eventually(
        workloads.fetch_when(kube, f"{jobs}/broken", workloads.has_condition("Failed")),
        what="Job broken Failed",
    )
    assert job["status"].get("succeeded", 0) == 0
    pod = only_pod(kube, kube_namespace, "job=broken")
    assert pod is not None
    assert pod["status"]["phase"] == "Failed"
    assert container(pod)["state"]["terminated"]["exitCode"] == 3


def test_restart_restarts_the_container_once_then_it_runs_ready(kube: Kube, kube_namespace: str) -> None:
    deployments = f"/apis/apps/v1/namespaces/{kube_namespace}/deployments"
    kube.create(deployments, workloads.deployment("flaky", replicas=1, annotations={SIMULATE: "restart"}))

    def restarted_and_ready() -> dict[str, Any] | None:
        pod = only_pod(kube, kube_namespace, "app.kubernetes.io/name=flaky")
        if pod and container(pod).get("restartCount") == 1 and workloads.condition(pod, "Ready") == "True":
            return pod
        return None

    pod = eventually(restarted_and_ready, what="one restart, then Ready")
    assert container(pod)["lastState"]["terminated"]["exitCode"] == 1
    assert pod["status"]["phase"] == "Running"


def test_crashloop_keeps_restarting_and_never_gets_ready(kube: Kube, kube_namespace: str) -> None:
    deployments = f"/apis/apps/v1/namespaces/{kube_namespace}/deployments"
    # A 1s delay replaces the kubelet-like back-off (10s, 20s, ...) to keep the test short.
    annotations = {SIMULATE: "crashloop", "procplane.dev/simulate-delay": "1s"}
    kube.create(deployments, workloads.deployment("crashy", replicas=1, annotations=annotations))

    def looping() -> dict[str, Any] | None:
        pod = only_pod(kube, kube_namespace, "app.kubernetes.io/name=crashy")
        return pod if pod and container(pod).get("restartCount", 0) >= 3 else None

    pod = eventually(looping, what="three restarts")
    assert container(pod)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert workloads.condition(pod, "Ready") == "False"
    deployment = kube.get(f"{deployments}/crashy")
    assert deployment["status"].get("availableReplicas", 0) == 0


def test_notready_runs_without_becoming_ready(kube: Kube, kube_namespace: str) -> None:
    deployments = f"/apis/apps/v1/namespaces/{kube_namespace}/deployments"
    kube.create(deployments, workloads.deployment("slow", replicas=1, annotations={SIMULATE: "notready"}))

    def running() -> dict[str, Any] | None:
        pod = only_pod(kube, kube_namespace, "app.kubernetes.io/name=slow")
        return pod if pod and pod["status"].get("phase") == "Running" else None

    pod = eventually(running, what="pod slow Running")
    assert workloads.condition(pod, "Ready") == "False"
    assert kube.get(f"{deployments}/slow")["status"].get("readyReplicas", 0) == 0
