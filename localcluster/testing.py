"""pytest support: one local cluster per test session, shared by every test folder.

A conftest exposes the fixtures by importing them:

    from localcluster.testing import kube_api, kube_cluster, kube_namespace  # noqa: F401

Several conftests may do so: the cluster behind them is a process-wide singleton, started
on first use and stopped when the test process exits (or killed with it).
"""

from __future__ import annotations

import atexit
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from localcluster import launcher

T = TypeVar("T")

_shared: launcher.LocalCluster | None = None


def shared_cluster() -> launcher.LocalCluster:
    """The session's cluster, started on first call (building missing tools first)."""
    global _shared
    if _shared is None:
        state_dir = Path(tempfile.mkdtemp(prefix="procplane-cluster-"))
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


def create_namespace(api: Any, *, prefix: str = "t", labels: dict[str, str] | None = None) -> str:
    """Create a uniquely named namespace and wait until pods can be created in it."""
    from kubernetes import client

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})

    def has_default_sa() -> bool:
        accounts = core.list_namespaced_service_account(name, field_selector="metadata.name=default")
        return bool(accounts.items)

    # The ServiceAccount admission refuses pods until the controller-manager adds `default`.
    eventually(has_default_sa, what=f"ServiceAccount default in {name}")
    return name


@pytest.fixture(scope="session")
def kube_cluster() -> launcher.LocalCluster:
    """The running LocalCluster (kubeconfig_path, server_url, api_client(), rest())."""
    return shared_cluster()


@pytest.fixture(scope="session")
def kube_api(kube_cluster: launcher.LocalCluster) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` authenticated as cluster admin."""
    api = kube_cluster.api_client()
    yield api
    api.close()


@pytest.fixture
def kube_namespace(kube_api: Any) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    from kubernetes import client

    name = create_namespace(kube_api)
    yield name
    client.CoreV1Api(kube_api).delete_namespace(name)
