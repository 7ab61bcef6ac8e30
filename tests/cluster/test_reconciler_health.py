"""The reconciler's own probes against the real local cluster: `/readyz` answers 200 only once a
leader's caches have synced (a standby is ready to take over), `/healthz` while its loop turns,
and its `/metrics` shows the lease and the apiserver's answers.

To hold a cache unsynced on demand with real parts, the leader runs as a ServiceAccount that may
not list pods: the Pod informer is refused until a test grants it the permission."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.store import db, migrate
from reconciler.health import HealthServer
from reconciler.k8s import client as reconciler_kube
from reconciler.runner import Reconciler
from tests.cluster.stack import ReconcilerThread, install_crds
from tests.helm import serviceaccount
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, eventually

# Everything the reconciler reads and writes but pods (see tests/helm/rbac-golden.yaml).
ALL_BUT_PODS = {
    "apiGroups": ["", "apps", "autoscaling", "policy", "networking.k8s.io", "batch", "coordination.k8s.io",
                  "procplane.dev", "metrics.k8s.io", "events.k8s.io"],
    "resources": ["namespaces", "secrets", "services", "deployments", "horizontalpodautoscalers",
                  "poddisruptionbudgets", "ingresses", "cronjobs", "jobs", "leases", "applications",
                  "processes", "processes/status", "events", "nodes"],
    "verbs": ["*"],
}  # fmt: skip
PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}


class Probe:
    def __init__(self, server: HealthServer) -> None:
        self.base = f"http://127.0.0.1:{server.port}"

    def __call__(self, path: str) -> tuple[int, Any]:
        response = httpx.get(self.base + path, timeout=10)
        return response.status_code, response.json() if path != "/metrics" else response.text

    def readiness_when(self, wanted: Any) -> tuple[int, Any] | None:
        """`/readyz`'s answer once `wanted(status, body)` holds, else None (for `eventually`)."""
        answer = self("/readyz")
        return answer if wanted(*answer) else None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = normalize_database_url(f"sqlite:///{tmp_path / 'procplane.db'}")
    migrate.upgrade(url)
    return Settings(database_url=url)


@pytest.fixture
def cluster_role(kube: Kube) -> Iterator[str]:
    """A ClusterRole with everything the reconciler uses but pods, and one with pods, removed after."""
    name = f"procplane-health-{uuid.uuid4().hex[:8]}"
    kube.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles", {"metadata": {"name": name}, "rules": [ALL_BUT_PODS]}
    )
    kube.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles", {"metadata": {"name": f"{name}-pods"}, "rules": [PODS]}
    )
    yield name
    for suffix in ("", "-pods"):
        for kind in ("clusterroles", "clusterrolebindings"):
            path = f"/apis/rbac.authorization.k8s.io/v1/{kind}/{name}{suffix}"
            if kube.exists(path):
                kube.delete(path)


def bind(kube: Kube, role: str, namespace: str, account: str) -> None:
    kube.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    )


def reconciler(settings: Settings, api_client: Any, lease: str) -> Reconciler:
    factory = db.session_factory(db.create_engine(settings.database_url))
    return Reconciler(settings, api_client, factory, workers=1, lease_name=lease, lease_seconds=6.0,
                      lease_namespace="default")  # fmt: skip


def test_ready_only_once_the_leaders_caches_have_synced_and_a_standby_is_ready(
    settings: Settings,
    kube_cluster: launcher.LocalCluster,
    kube: Kube,
    kube_namespace: str,
    cluster_role: str,
    tmp_path: Path,
) -> None:
    install_crds(kube_cluster)
    kube.create(f"/api/v1/namespaces/{kube_namespace}/serviceaccounts", {"metadata": {"name": "reconciler"}})
    bind(kube, cluster_role, kube_namespace, "reconciler")
    token = serviceaccount.token(kube, kube_namespace, "reconciler")
    kubeconfig = serviceaccount.kubeconfig(kube_cluster, token, tmp_path / "kubeconfig")
    lease = f"procplane-health-{uuid.uuid4().hex[:8]}"

    leader = reconciler(settings, reconciler_kube.new_api_client(str(kubeconfig)), lease)
    server = HealthServer(leader.health, "127.0.0.1", 0).start()
    probe = Probe(server)
    # Before the loop runs, it is neither alive nor ready.
    assert probe("/healthz") == (503, {"status": "not_running"})
    assert probe("/readyz")[0] == 503
    thread = ReconcilerThread(leader).start()
    standby_thread: ReconcilerThread | None = None
    try:
        # It leads; every cache syncs but the Pod cache, which cannot: alive, not ready, and it
        # says why (for as long as the permission is missing).
        status, body = eventually(
            lambda: probe.readiness_when(lambda _, body: body.get("unsynced_kinds") == ["Pod"]),
            timeout=60,
            what="every cache but the Pod one synced",
        )
        assert (status, body) == (
            503, {"status": "not_ready", "lease": "leading", "caches_synced": False, "unsynced_kinds": ["Pod"]}
        )  # fmt: skip
        assert probe("/healthz")[0] == 200
        # Once it may list pods, the cache syncs and the reconciler is ready.
        bind(kube, f"{cluster_role}-pods", kube_namespace, "reconciler")
        status, body = eventually(
            lambda: probe.readiness_when(lambda status, _: status == 200), timeout=60, what="ready"
        )
        assert body == {"status": "ok", "lease": "leading", "caches_synced": True, "unsynced_kinds": []}
        assert all(informer.synced for informer in leader.cache.informers.values())  # type: ignore[union-attr]
        metrics = probe("/metrics")[1]
        assert f'procplane_lease_held{{lease="{lease}"}} 1.0' in metrics
        # The refused pod lists were counted by their code.
        assert 'procplane_apiserver_requests_total{code="403",verb="list"}' in metrics

        # A second replica waits for the lease: ready to take over, as a standby.
        standby = reconciler(settings, kube_cluster.api_client(), lease)
        standby_server = HealthServer(standby.health, "127.0.0.1", 0).start()
        standby_thread = ReconcilerThread(standby).start()
        standby_probe = Probe(standby_server)
        ready = eventually(lambda: standby_probe.readiness_when(lambda status, _: status == 200), what="standby")
        assert ready == (200, {"status": "ok", "lease": "standby"})
        standby_server.stop()
    finally:
        if standby_thread is not None:
            standby_thread.stop()
        thread.stop()
    # Stopped: its loop no longer turns.
    assert probe("/healthz") == (503, {"status": "not_running"})
    server.stop()
