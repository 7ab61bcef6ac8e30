"""The local cluster is a real control plane: real controllers, admission, RBAC and apply."""

from __future__ import annotations

import base64
import json
import ssl
from typing import Any

import httpx
import pytest

from tests.cluster import workloads
from tests.support.localcluster import components, launcher, versions
from tests.support.localcluster.testing import Kube, KubeError, create_namespace, eventually

APPS = "/apis/apps/v1/namespaces/{ns}"
BATCH = "/apis/batch/v1/namespaces/{ns}"
CORE = "/api/v1/namespaces/{ns}"


def pods(kube: Kube, ns: str, selector: str) -> list[dict[str, Any]]:
    return kube.items(CORE.format(ns=ns) + "/pods", labelSelector=selector)


def test_apiserver_is_the_pinned_release_and_ready(kube: Kube) -> None:
    assert kube.get("/version")["gitVersion"] == versions.KUBERNETES_VERSION
    assert kube.http.get("/readyz").text == "ok"


def test_deployment_gets_two_running_ready_pods_on_kwok_nodes(
    kube: Kube, kube_cluster: launcher.LocalCluster, kube_namespace: str
) -> None:
    kube.create(APPS.format(ns=kube_namespace) + "/deployments", workloads.deployment("web", replicas=2))

    def running_ready() -> list[dict[str, Any]] | None:
        found = pods(kube, kube_namespace, "app.kubernetes.io/name=web")
        good = [
            p for p in found
            if p["status"].get("phase") == "Running" and workloads.condition(p, "Ready") == "True"
        ]  # fmt: skip
        return good if len(good) == 2 else None

    ready = eventually(running_ready, what="2 Running, Ready pods")
    for pod in ready:
        node = kube.get(f"/api/v1/nodes/{pod['spec']['nodeName']}")
        assert node["metadata"]["name"] in kube_cluster.node_names
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    deployment = eventually(
        workloads.fetch_when(
            kube,
            APPS.format(ns=kube_namespace) + "/deployments/web",
            lambda d: d["status"].get("availableReplicas") == 2,
        ),
        what="Deployment web available",
    )
    assert workloads.condition(deployment, "Available") == "True"


def test_job_completes(kube: Kube, kube_namespace: str) -> None:
    path = BATCH.format(ns=kube_namespace) + "/jobs"
    kube.create(path, workloads.job("once"))

    job = eventually(
        workloads.fetch_when(kube, f"{path}/once", workloads.has_condition("Complete")),
        what="Job once Complete",
    )
    assert job["status"]["succeeded"] == 1
    (pod,) = pods(kube, kube_namespace, "job=once")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_cronjob_every_minute_creates_a_job(kube: Kube, kube_namespace: str) -> None:
    kube.create(BATCH.format(ns=kube_namespace) + "/cronjobs", workloads.cronjob("tick", "*/1 * * * *"))

    def owned_jobs() -> list[dict[str, Any]]:
        return [
            j for j in kube.items(BATCH.format(ns=kube_namespace) + "/jobs")
            if any(o["kind"] == "CronJob" and o["name"] == "tick" for o in j["metadata"].get("ownerReferences", []))
        ]  # fmt: skip

    # The controller fires on the next minute boundary: at most 60s away, plus its resync.
    (job, *_) = eventually(owned_jobs, timeout=90, interval=1, what="a Job created by CronJob tick")
    job_path = BATCH.format(ns=kube_namespace) + f"/jobs/{job['metadata']['name']}"
    eventually(workloads.fetch_when(kube, job_path, workloads.has_condition("Complete")), what="its Job to complete")


def test_deleting_a_deployment_garbage_collects_replicasets_and_pods(kube: Kube, kube_namespace: str) -> None:
    apps = APPS.format(ns=kube_namespace)
    kube.create(apps + "/deployments", workloads.deployment("gc", replicas=2))
    eventually(lambda: len(pods(kube, kube_namespace, "app.kubernetes.io/name=gc")) == 2, what="pods of gc")
    assert kube.items(apps + "/replicasets", labelSelector="app.kubernetes.io/name=gc")

    kube.delete(apps + "/deployments/gc", propagation="Background")

    eventually(
        lambda: (
            not kube.items(apps + "/replicasets", labelSelector="app.kubernetes.io/name=gc")
            and not pods(kube, kube_namespace, "app.kubernetes.io/name=gc")
        ),
        what="ReplicaSet and pods of gc to be garbage-collected",
    )


def test_deleting_an_owner_garbage_collects_any_owned_object(kube: Kube, kube_namespace: str) -> None:
    configmaps = CORE.format(ns=kube_namespace) + "/configmaps"
    owner = kube.create(configmaps, {"metadata": {"name": "owner"}})
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    kube.create(configmaps, {"metadata": {"name": "child", "ownerReferences": [reference]}})

    kube.delete(f"{configmaps}/owner")

    eventually(lambda: not kube.exists(f"{configmaps}/child"), what="child ConfigMap to be collected")


def test_restricted_namespace_refuses_a_pod_that_breaks_the_profile(kube: Kube) -> None:
    ns = create_namespace(kube, labels={"pod-security.kubernetes.io/enforce": "restricted"})
    privileged = workloads.pod_spec()
    privileged["containers"][0]["securityContext"] = {"privileged": True}
    path = CORE.format(ns=ns) + "/pods"

    with pytest.raises(KubeError) as refused:
        kube.create(path, workloads.pod("bad", privileged))

    assert refused.value.status == 403
    message = refused.value.body["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "privileged" in message
    # The same pod, made compliant, is admitted: the refusal was the policy, nothing else.
    kube.create(path, workloads.pod("good", workloads.pod_spec()))
    kube.delete(f"/api/v1/namespaces/{ns}")


def test_server_side_apply_of_the_same_object_twice_changes_nothing(kube: Kube, kube_namespace: str) -> None:
    path = APPS.format(ns=kube_namespace) + "/deployments/applied"
    manifest = workloads.deployment("applied", replicas=1)

    kube.apply(path, manifest)
    # The Deployment controller writes status until the rollout settles; compare after that, so
    # only our second apply could move the resourceVersion.
    settled = eventually(
        lambda: (
            (d := kube.get(path)).get("status", {}).get("availableReplicas") == 1
            and d["status"].get("observedGeneration") == 1
            and d
        ),
        what="the Deployment to settle",
    )
    second = kube.apply(path, manifest)

    assert second["metadata"]["resourceVersion"] == settled["metadata"]["resourceVersion"]
    assert second["metadata"]["generation"] == settled["metadata"]["generation"] == 1
    managers = {(m["manager"], m["operation"]) for m in second["metadata"]["managedFields"]}
    assert ("procplane", "Apply") in managers


def test_service_account_tokens_are_authorized_by_rbac(
    kube: Kube, kube_cluster: launcher.LocalCluster, kube_namespace: str
) -> None:
    core = CORE.format(ns=kube_namespace)
    kube.create(core + "/serviceaccounts", {"metadata": {"name": "reader"}})
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
    token = kube.create(core + "/serviceaccounts/reader/token", request)["status"]["token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{kube_namespace}:reader"
    assert claims["iss"] == components.SERVICE_ACCOUNT_ISSUER

    ca = ssl.create_default_context(cafile=str(kube_cluster.pki.ca.cert))
    with httpx.Client(base_url=kube_cluster.server_url, verify=ca, headers={"Authorization": f"Bearer {token}"}) as sa:
        assert sa.get(core + "/pods").status_code == 403
        kube.create(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{kube_namespace}/roles",
            {
                "metadata": {"name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
            },
        )
        kube.create(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{kube_namespace}/rolebindings",
            {
                "metadata": {"name": "reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": kube_namespace}],
            },
        )
        eventually(lambda: sa.get(core + "/pods").status_code == 200, what="RBAC to allow the reader")
        assert sa.get(core + "/secrets").status_code == 403
