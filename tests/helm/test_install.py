"""`helm install` into the real local cluster (KWOK runs the pods): a trial release on SQLite
that owns the CRDs, and a production release on PostgreSQL whose reconciler ServiceAccount is
then checked against the golden permission list and used to converge an application."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.domain.settings import Settings, normalize_database_url
from tests.api.conftest import ADMIN_TOKEN, Api, make_client
from tests.cluster.stack import Stack
from tests.helm import serviceaccount
from tests.helm.chart import CHART, helm, values_args
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, KubeError, create_namespace, eventually

GOLDEN = Path(__file__).parent / "rbac-golden.yaml"
UPDATE_GOLDEN = os.environ.get("PROCPLANE_UPDATE_GOLDEN") == "1"
CRDS = ("applications.procplane.dev", "processes.procplane.dev")
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}


@dataclass
class Release:
    name: str
    namespace: str
    output: str

    @property
    def fullname(self) -> str:
        return f"{self.name}-procplane"


def exists(kube: Kube, path: str) -> bool:
    try:
        kube.get(path)
    except KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def established(kube: Kube, name: str) -> bool:
    crd = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    return any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"].get("conditions", []))


def ready_pods(kube: Kube, namespace: str, component: str) -> list[dict[str, Any]]:
    pods = kube.items(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app.kubernetes.io/component={component}")
    return [
        p for p in pods
        if p["status"].get("phase") == "Running"
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]  # fmt: skip


def install(cluster: launcher.LocalCluster, kube: Kube, name: str, namespace: str, *args: str) -> Release:
    command = ["install", name, str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s", *args]
    # The cluster tests may have applied the CRDs already (procplane --install-crds does that):
    # the release adopts them, as an operator moving to the chart would.
    if "crds.enabled=false" not in args and all(
        exists(kube, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}") for crd in CRDS
    ):
        command.append("--take-ownership")
    return Release(name, namespace, helm(*command, kubeconfig=cluster.kubeconfig_path).stdout)


def uninstall(cluster: launcher.LocalCluster, release: Release) -> None:
    helm("uninstall", release.name, "--namespace", release.namespace, "--wait", kubeconfig=cluster.kubeconfig_path,
         check=False)  # fmt: skip


@pytest.fixture(scope="module")
def trial(kube_cluster: launcher.LocalCluster, kube: Kube) -> Iterator[Release]:
    """The defaults: SQLite on a claim (bound here to a pre-provisioned volume), CRDs owned."""
    namespace = create_namespace(kube, prefix="trial", labels=RESTRICTED)
    volume = f"{namespace}-data"
    kube.create("/api/v1/persistentvolumes", {
        "metadata": {"name": volume},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"/srv/{volume}"},
                 "claimRef": {"namespace": namespace, "name": "trial-procplane-data"}},
    })  # fmt: skip
    release = install(kube_cluster, kube, "trial", namespace)
    yield release
    uninstall(kube_cluster, release)
    kube.delete(f"/api/v1/namespaces/{namespace}")
    kube.delete(f"/api/v1/persistentvolumes/{volume}")


@pytest.fixture(scope="module")
def production(kube_cluster: launcher.LocalCluster, kube: Kube, trial: Release) -> Iterator[Release]:
    """The postgresql scenario with its Secrets made beforehand; the trial release owns the CRDs."""
    namespace = create_namespace(kube, prefix="prod", labels=RESTRICTED)
    for name, key, value in (("procplane-database", "url", "postgresql://pp:pw@db.invalid/pp"),
                             ("procplane-bootstrap", "bootstrap-token", "pp_bootstrap")):  # fmt: skip
        kube.create(f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": name}, "stringData": {key: value}})
    release = install(kube_cluster, kube, "prod", namespace, *values_args("postgresql"), "--set", "crds.enabled=false")
    yield release
    uninstall(kube_cluster, release)
    kube.delete(f"/api/v1/namespaces/{namespace}")


def test_trial_install_is_accepted_and_runs_restricted(trial: Release, kube: Kube) -> None:
    for crd in CRDS:
        assert established(kube, crd)
        found = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
        assert found["metadata"]["annotations"]["meta.helm.sh/release-name"] == "trial"
    ns = trial.namespace
    claim = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/trial-procplane-data")
    assert claim["status"]["phase"] == "Bound"
    # Pods exist only if the ReplicaSet's pods passed Pod Security "restricted" admission.
    (pod,) = ready_pods(kube, ns, "server")
    assert pod["spec"]["serviceAccountName"] == "trial-procplane-reconciler"
    assert pod["spec"]["nodeName"]
    assert "kubectl port-forward -n " + ns in trial.output


def test_helm_test_pod_passes_server_side_validation(
    trial: Release, kube: Kube, kube_cluster: launcher.LocalCluster
) -> None:
    """The `helm test` pod cannot run here (KWOK runs no image, so nothing would answer /readyz);
    it goes through the apiserver's validation and Pod Security admission as a dry run."""
    hooks = helm("get", "hooks", "trial", "--namespace", trial.namespace, kubeconfig=kube_cluster.kubeconfig_path)
    (pod,) = [h for h in yaml.safe_load_all(hooks.stdout) if h and h["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    accepted = kube.http.post(f"/api/v1/namespaces/{trial.namespace}/pods", params={"dryRun": "All"}, json=pod)
    assert accepted.status_code == 201, accepted.text
    assert "warning" not in {k.lower() for k in accepted.headers}  # no Pod Security warning either


def test_production_install_splits_the_api_from_the_reconciler(production: Release, kube: Kube) -> None:
    ns = production.namespace
    eventually(lambda: len(ready_pods(kube, ns, "api")) == 3, what="3 API pods ready")
    eventually(lambda: len(ready_pods(kube, ns, "reconciler")) == 2, what="2 reconciler pods ready")
    for pod in ready_pods(kube, ns, "api"):
        # No token is mounted: the ServiceAccount admission would have added a kube-api-access volume.
        assert not [v for v in pod["spec"].get("volumes", []) if "projected" in v], pod["metadata"]["name"]
    for pod in ready_pods(kube, ns, "reconciler"):
        assert [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access")]
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["PROCPLANE_LEASE_NAMESPACE"] == ns
    pdbs = kube.items(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets")
    assert sorted(p["metadata"]["name"] for p in pdbs) == ["prod-procplane-api", "prod-procplane-reconciler"]


def _permissions(cluster: launcher.LocalCluster, kube: Kube, release: Release, other_namespace: str) -> dict[str, Any]:
    reconciler = serviceaccount.token(kube, release.namespace, f"{release.fullname}-reconciler")
    api = serviceaccount.token(kube, release.namespace, f"{release.fullname}-api")
    return {
        "reconciler in the release namespace": serviceaccount.rules(cluster, reconciler, release.namespace),
        "reconciler in any other namespace": serviceaccount.rules(cluster, reconciler, other_namespace),
        "api in the release namespace": serviceaccount.rules(cluster, api, release.namespace),
    }


def test_service_account_permissions_equal_the_golden_list(
    production: Release, kube: Kube, kube_cluster: launcher.LocalCluster, kube_namespace: str
) -> None:
    found = _permissions(kube_cluster, kube, production, kube_namespace)
    if UPDATE_GOLDEN:
        header = (
            "# What the chart's ServiceAccounts may do: `kubectl auth can-i --list` (a SelfSubjectRulesReview) as\n"
            "# each of them, from tests/helm/test_install.py. Rewrite with PROCPLANE_UPDATE_GOLDEN=1 after an\n"
            "# intended RBAC change and review the diff like code. The non-resource URLs and the self-reviews\n"
            "# are what every authenticated user gets from Kubernetes' default roles.\n"
        )
        GOLDEN.write_text(header + yaml.safe_dump(found, sort_keys=False, default_flow_style=None, width=120))
    assert found == yaml.safe_load(GOLDEN.read_text())


def test_reconciler_with_its_service_account_token_converges_an_application(
    production: Release,
    kube: Kube,
    kube_cluster: launcher.LocalCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reconciler runs outside the cluster with a token of the release's reconciler
    ServiceAccount: every kind it writes gets written, so the RBAC is enough."""
    caplog.set_level(logging.INFO)
    bearer = serviceaccount.token(kube, production.namespace, f"{production.fullname}-reconciler")
    config = serviceaccount.kubeconfig(kube_cluster, bearer, tmp_path / "kubeconfig")
    settings = Settings(
        database_url=normalize_database_url(f"sqlite:///{tmp_path / 'procplane.db'}"), bootstrap_token=ADMIN_TOKEN,
        ingress_class="nginx", ingress_domain="apps.example.com", lease_namespace=production.namespace,
    )  # fmt: skip
    with make_client(settings) as client:
        stack = Stack(Api(client), settings, kube_cluster, kube)
        replica = serviceaccount.reconciler_as(settings, config, production.namespace).start()
        try:
            _converge(stack, kube, production.namespace)
        finally:
            replica.stop()
    assert replica.error is None
    refused = [r.getMessage() for r in caplog.records if "forbidden" in r.getMessage().lower()]
    assert refused == []


def _converge(stack: Stack, kube: Kube, lease_namespace: str) -> None:
    lease = f"/apis/coordination.k8s.io/v1/namespaces/{lease_namespace}/leases/procplane-reconciler"
    app = stack.app_with_procfile("helmed", "web: serve\nworker: work\n")
    app_id = app["id"]
    web = stack.wait_status(app_id, "web", "up", ready=1)
    worker = stack.wait_status(app_id, "worker", "up", ready=1)
    assert kube.get(lease)["spec"]["holderIdentity"]
    ns = stack.api.get(f"/v1/applications/{app_id}").json()["namespace"]
    base = f"/v1/applications/{app_id}/processes"
    # Autoscaling, a disruption budget and an Ingress for the web process.
    scaling = {"type": "horizontal", "config": {"minInstanceCount": 2, "maxInstanceCount": 4}}
    patched = stack.api.patch(f"{base}/{web['id']}", json={"is_ingress_enabled": True, "scaling_strategy": scaling})
    assert patched.status_code == 200, patched.text
    for path in (f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/helmed-web",
                 f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/helmed-web",
                 f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/helmed-web"):  # fmt: skip
        eventually(functools.partial(exists, kube, path), what=path)
    # The config Secret is written (never read back).
    vars_response = stack.api.patch(f"/v1/applications/{app_id}/config-vars", json={"vars": {"GREETING": "hi"}})
    assert vars_response.status_code == 200, vars_response.text
    eventually(
        lambda: "GREETING" in (kube.get(f"/api/v1/namespaces/{ns}/secrets/helmed-config").get("data") or {}),
        what="GREETING in the config Secret",
    )
    # A cron process, run now: a Job owned by its CronJob.
    cron = stack.api.create_process(app_id, key="report", type="cron", entrypoint="report", schedule="0 6 * * *",
                                    time_zone="UTC")  # fmt: skip
    run = stack.api.post(f"{base}/{cron['id']}/trigger")
    assert run.status_code == 200, run.text

    def job_name() -> str | None:
        runs = stack.api.get(f"{base}/{cron['id']}/runs").json()["data"]
        return next((r["job_name"] for r in runs if r["job_name"]), None)

    name = eventually(job_name, what="the triggered Job")
    assert (
        kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}")["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    )
    # Scaling, then removing a process, then the whole application.
    body = {"scaling_strategy": {"type": "manual", "config": {"instanceCount": 2}}}
    assert stack.api.patch(f"{base}/{worker['id']}", json=body).status_code == 200
    stack.wait_status(app_id, "worker", "up", ready=2)
    assert stack.api.delete(f"{base}/{worker['id']}").status_code == 200
    eventually(lambda: not exists(kube, f"/apis/apps/v1/namespaces/{ns}/deployments/helmed-worker"), what="worker gone")
    assert stack.api.delete(f"/v1/applications/{app_id}").status_code == 200
    eventually(lambda: not exists(kube, f"/api/v1/namespaces/{ns}"), timeout=90, what=f"namespace {ns} gone")


def test_upgrade_keeps_the_generated_token_and_uninstall_keeps_crds_and_data(
    trial: Release, kube: Kube, kube_cluster: launcher.LocalCluster
) -> None:
    secret = f"/api/v1/namespaces/{trial.namespace}/secrets/trial-procplane-bootstrap-token"
    before = kube.get(secret)["data"]["bootstrap-token"]
    helm("upgrade", "trial", str(CHART), "--namespace", trial.namespace, "--wait", "--timeout", "120s",
         "--set", "planLimits.maxProcessesPerApplication=7", kubeconfig=kube_cluster.kubeconfig_path)  # fmt: skip
    assert kube.get(secret)["data"]["bootstrap-token"] == before
    server = kube.get(f"/apis/apps/v1/namespaces/{trial.namespace}/deployments/trial-procplane-server")
    env = {e["name"]: e.get("value") for e in server["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PROCPLANE_MAX_PROCESSES_PER_APPLICATION"] == "7"
    uninstall(kube_cluster, trial)
    assert not exists(kube, f"/apis/apps/v1/namespaces/{trial.namespace}/deployments/trial-procplane-server")
    assert not exists(kube, "/apis/rbac.authorization.k8s.io/v1/clusterroles/trial-procplane-reconciler")
    for crd in CRDS:
        assert established(kube, crd)  # helm.sh/resource-policy: keep
    assert exists(kube, f"/api/v1/namespaces/{trial.namespace}/persistentvolumeclaims/trial-procplane-data")
