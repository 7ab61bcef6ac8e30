"""Two procplane installs in one cluster, each with its own install id and its own database: each
labels what it writes with its id and watches only objects carrying it, so neither takes the
other's applications for orphans of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from reconciler.render import labels
from tests.cluster.stack import ReconcilerThread, Stack, running_stack
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, KubeError, eventually

INSTALLS = ("blue", "green")


@pytest.fixture
def installs(tmp_path: Path, kube_cluster: launcher.LocalCluster, kube: Kube) -> Iterator[dict[str, Stack]]:
    with ExitStack() as stack:
        found = {}
        for install_id in INSTALLS:
            (tmp_path / install_id).mkdir()
            found[install_id] = stack.enter_context(
                running_stack(tmp_path / install_id, kube_cluster, kube, install_id=install_id)
            )
        yield found


def _application_cr(kube: Kube, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = kube.get(f"/apis/procplane.dev/v1alpha1/applications/{namespace}")
    return found


def test_two_installs_never_touch_each_others_applications(installs: dict[str, Stack], kube: Kube) -> None:
    replicas: dict[str, ReconcilerThread] = {}
    apps: dict[str, dict[str, Any]] = {}
    for install_id, stack in installs.items():
        replicas[install_id] = stack.start_reconciler()
        apps[install_id] = stack.app_with_procfile(f"shop-{install_id}", "web: serve\n")
    for install_id, stack in installs.items():
        stack.wait_status(apps[install_id]["id"], "web", "up", ready=1)

    for install_id, app in apps.items():
        namespace = app["namespace"]
        owned = [
            _application_cr(kube, namespace),
            kube.get(f"/api/v1/namespaces/{namespace}"),
            kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/shop-{install_id}-web"),
            *kube.items(f"/api/v1/namespaces/{namespace}/pods"),
        ]
        assert {o["metadata"]["labels"][labels.INSTALL_ID] for o in owned} == {install_id}

    # Each install's database knows only its own application, so to each the other's looks like
    # an application deleted while no reconciler ran: exactly what a resync, and a pass over that
    # id, clean up. Neither may touch the other's.
    for install_id, replica in replicas.items():
        other = next(app for other_id, app in apps.items() if other_id != install_id)
        replica.resync_now()
        replica.reconcile_now(other["id"])
        cache = replica.reconciler.cache
        assert cache is not None
        cached = {o["metadata"]["name"] for o in cache["Application"].select(lambda _: True)}
        assert cached == {apps[install_id]["namespace"]}
    for install_id, app in apps.items():
        assert "deletionTimestamp" not in _application_cr(kube, app["namespace"])["metadata"]
        assert kube.get(f"/api/v1/namespaces/{app['namespace']}")["status"]["phase"] == "Active"
        installs[install_id].wait_status(app["id"], "web", "up", ready=1)

    # An install still removes what is its own, and only that.
    blue = installs["blue"]
    assert blue.api.delete(f"/v1/applications/{apps['blue']['id']}").status_code == 200
    eventually(lambda: _deleted(kube, apps["blue"]["namespace"]), what="blue's application deleted")
    assert "deletionTimestamp" not in _application_cr(kube, apps["green"]["namespace"])["metadata"]


def _deleted(kube: Kube, namespace: str) -> bool:
    try:
        return "deletionTimestamp" in _application_cr(kube, namespace)["metadata"]
    except KubeError as exc:
        return exc.status == 404
