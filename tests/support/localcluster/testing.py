"""pytest support: one local cluster per test session, shared by every test folder.

A conftest exposes the fixtures by importing them:

    from tests.support.localcluster.testing import kube, kube_api, kube_cluster, kube_namespace  # noqa: F401

Several conftests may do so: the cluster behind them is a process-wide singleton, started
on first use and stopped when the test process exits (or killed with it).
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.localcluster import launcher

T = TypeVar("T")

_shared: launcher.LocalCluster | None = None


def shared_cluster(state_dir: Path | None = None) -> launcher.LocalCluster:
    """The session's cluster, started on first call (building missing tools first)."""
    global _shared
    if _shared is None:
        state_dir = state_dir or Path(tempfile.mkdtemp(prefix="procplane-cluster-"))
        cluster = launcher.LocalCluster(state_dir, tie_to_parent=True)
        cluster.start()
        atexit.register(cluster.stop)
        _shared = cluster
        # Child processes (a reconciler under test, kubectl, helm) find the cluster too.
        os.environ["PROCPLANE_TEST_KUBECONFIG"] = str(cluster.kubeconfig_path)
    return _shared


def eventually(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


class KubeError(Exception):
    def __init__(self, method: str, path: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{method} {path}: {status} {body.get('message', body)}")
        self.status = status
        self.body = body


class Kube:
    """Plain REST against the apiserver, JSON in and out, so tests see the wire protocol."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            raise KubeError(method, path, response.status_code, body)
        return body

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def items(self, path: str, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(path, **params).get("items", [])
        return items

    def create(self, path: str, manifest: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, json=manifest)

    def apply(self, path: str, manifest: dict[str, Any], *, manager: str = "procplane") -> dict[str, Any]:
        """Server-side apply of `manifest` to the object at `path`."""
        return self._call(
            "PATCH",
            path,
            params={"fieldManager": manager, "force": "true"},
            content=json.dumps(manifest),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    def delete(self, path: str, *, propagation: str = "Background") -> dict[str, Any]:
        return self._call("DELETE", path, json={"propagationPolicy": propagation})

    def exists(self, path: str) -> bool:
        return self.http.get(path).status_code == 200


def create_namespace(kube: Kube, *, prefix: str = "t", labels: dict[str, str] | None = None) -> str:
    """Create a uniquely named namespace and wait until pods can be created in it."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kube.create("/api/v1/namespaces", {"metadata": {"name": name, "labels": labels or {}}})
    # The ServiceAccount admission refuses pods until the controller-manager adds `default`.
    eventually(
        lambda: kube.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
        what=f"ServiceAccount default in {name}",
    )
    return name


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> launcher.LocalCluster:
    """The running LocalCluster (kubeconfig_path, server_url, api_client(), rest()).

    Its state, logs included, stays in pytest's temporary directory (the last few runs
    are kept) for a look after a failure.
    """
    if _shared is not None:
        return _shared
    return shared_cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="session")
def kube(kube_cluster: launcher.LocalCluster) -> Iterator[Kube]:
    """REST access to the cluster as admin (see `Kube`)."""
    with kube_cluster.rest() as http:
        yield Kube(http)


@pytest.fixture(scope="session")
def kube_api(kube_cluster: launcher.LocalCluster) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` authenticated as cluster admin."""
    api = kube_cluster.api_client()
    yield api
    api.close()


@pytest.fixture
def kube_namespace(kube: Kube) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = create_namespace(kube)
    yield name
    kube.delete(f"/api/v1/namespaces/{name}")
