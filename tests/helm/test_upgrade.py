"""`helm upgrade` from the previous chart version on PostgreSQL keeps every stored spec.

KWOK runs the pods of the local cluster, so nothing runs inside them: procplane runs here, each
time configured exactly as a chart's pod is (its container's environment, Secrets resolved), on a
real PostgreSQL server. In order: the previous chart (fixtures/procplane-0.1.0.tgz, made with
`git archive --prefix=procplane/ <commit>:helm/procplane | gzip -n`) is installed, its init
container's migration is run, specs are stored through the API as its API pod is configured; the
current chart is installed over it with `helm upgrade`, its pre-upgrade hook Job's command is run
as the Job would run it; then the API as the upgraded chart configures it reads back every spec
unchanged, and a reconciler with the release's ServiceAccount token and the chart's install id
converges them."""

from __future__ import annotations

import base64
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain.settings import load_settings
from reconciler.k8s import client as reconciler_kube
from reconciler.k8s import crds
from reconciler.render import labels
from tests.api.conftest import ADMIN_TOKEN, Api, make_client
from tests.cluster.stack import Stack, install_crds
from tests.helm import serviceaccount
from tests.helm.chart import CHART, helm
from tests.postgres import postgres_server
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, KubeError, create_namespace, eventually

PREVIOUS_CHART = Path(__file__).parent / "fixtures" / "procplane-0.1.0.tgz"
PROCPLANE = Path(sys.executable).parent / "procplane"
RELEASE = "up"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_server() as server:
        yield server.create_database()


def _values(database_url: str) -> list[str]:
    # The same values for both versions, as an operator's values file would give them.
    return ["--set", "database.type=postgresql", "--set", f"database.postgresql.url={database_url}",
            "--set", f"bootstrapToken.value={ADMIN_TOKEN}", "--set", "crds.enabled=false",
            "--set", "reconciler.replicas=1"]  # fmt: skip


def _secret_value(kube: Kube, namespace: str, ref: dict[str, str], hooks: list[dict[str, Any]]) -> str:
    """A secretKeyRef's value: from the hooks' own Secrets (gone once the hook succeeded) or the cluster."""
    secret = next((h for h in hooks if h["kind"] == "Secret" and h["metadata"]["name"] == ref["name"]), None)
    if secret is None:
        secret = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{ref['name']}")
    return base64.b64decode(secret["data"][ref["key"]]).decode()


def _environment(
    kube: Kube, namespace: str, container: dict[str, Any], hooks: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """The container's environment as the kubelet would give it."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            env[item["name"]] = _secret_value(kube, namespace, item["valueFrom"]["secretKeyRef"], hooks or [])
    return env


def _run_as_pod(command: list[str], env: dict[str, str]) -> None:
    """`procplane <args>` with only the pod's procplane settings (none of this machine's)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROCPLANE_") and k != "KUBECONFIG"}
    done = subprocess.run([str(PROCPLANE), *command], env={**clean, **env}, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _api_container(kube: Kube, namespace: str) -> dict[str, Any]:
    deployment = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{RELEASE}-procplane-api")
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def _configure(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith("PROCPLANE_") or name == "KUBECONFIG":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _stored_specs(api: Api) -> dict[str, Any]:
    apps = api.get("/v1/applications", params={"limit": 100}).json()["data"]
    return {
        app["id"]: {
            "application": app,
            "processes": api.get(f"/v1/applications/{app['id']}/processes", params={"limit": 100}).json()["data"],
            "config_vars": api.get(f"/v1/applications/{app['id']}/config-vars").json(),
        }
        for app in apps
    }


def _store_specs(api: Api) -> None:
    for name in ("shop", "blog"):
        app = api.create_app(name, image="nginx:1.27")
        procfile = b"web: serve\nworker: work\nrelease: migrate\n"
        put = api.put(f"/v1/applications/{app['id']}/procfile", content=procfile,
                      headers={"Content-Type": "text/plain"})  # fmt: skip
        assert put.status_code == 200, put.text
        api.create_process(app["id"], key="report", type="cron", entrypoint="report", schedule="0 6 * * *",
                           time_zone="Europe/Paris")  # fmt: skip
        vars_set = api.patch(f"/v1/applications/{app['id']}/config-vars", json={"vars": {"GREETING": name}})
        assert vars_set.status_code == 200, vars_set.text
        worker = next(p for p in api.get(f"/v1/applications/{app['id']}/processes").json()["data"]
                      if p["key"] == "worker")  # fmt: skip
        scaled = api.patch(f"/v1/applications/{app['id']}/processes/{worker['id']}",
                           json={"scaling_strategy": {"type": "manual", "config": {"instanceCount": 2}}})  # fmt: skip
        assert scaled.status_code == 200, scaled.text


def test_upgrade_from_the_previous_chart_keeps_every_spec_and_converges(
    kube_cluster: launcher.LocalCluster,
    kube: Kube,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_crds(kube_cluster)  # crds.enabled=false: another release (or the cluster tests) own them
    namespace = create_namespace(kube, prefix="upgrade", labels=RESTRICTED)
    config = kube_cluster.kubeconfig_path
    try:
        helm("install", RELEASE, str(PREVIOUS_CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
             *_values(database), kubeconfig=config)  # fmt: skip
        previous = _api_container(kube, namespace)
        (init,) = previous["initContainers"]
        _run_as_pod(init["args"], _environment(kube, namespace, init))
        _configure(monkeypatch, _environment(kube, namespace, previous["containers"][0]))
        with make_client(load_settings()) as client:
            _store_specs(Api(client))
            before = _stored_specs(Api(client))
        assert len(before) == 2

        upgraded = helm("upgrade", RELEASE, str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
                        *_values(database), kubeconfig=config)  # fmt: skip
        assert "REVISION: 2" in upgraded.stdout
        hooks = [h for h in yaml.safe_load_all(helm("get", "hooks", RELEASE, "--namespace", namespace,
                                                    kubeconfig=config).stdout) if h]  # fmt: skip
        (job,) = [h for h in hooks if h["kind"] == "Job"]
        assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"].split(",")
        (migrate,) = job["spec"]["template"]["spec"]["containers"]
        _run_as_pod(migrate["args"], _environment(kube, namespace, migrate, hooks))

        current = _api_container(kube, namespace)
        assert "initContainers" not in current
        env = _environment(kube, namespace, current["containers"][0])
        install_id = env["PROCPLANE_INSTALL_ID"]
        _configure(monkeypatch, env)
        settings = load_settings()
        # As the upgraded API pod runs (`--no-migrate`): on the schema the hook's command left.
        assert current["containers"][0]["args"][-1] == "--no-migrate"
        with TestClient(create_app(settings, run_migrations=False)) as client:
            assert _stored_specs(Api(client)) == before

            # The upgraded reconciler: its ServiceAccount's token, the chart's install id.
            bearer = serviceaccount.token(kube, namespace, f"{RELEASE}-procplane-reconciler")
            token_config = serviceaccount.kubeconfig(kube_cluster, bearer, tmp_path / "kubeconfig")
            crds.check(reconciler_kube.Kube(reconciler_kube.new_api_client(str(token_config))))
            replica = serviceaccount.reconciler_as(settings, token_config, namespace).start()
            stack = Stack(Api(client), settings, kube_cluster, kube)
            try:
                for app_id, stored in before.items():
                    stack.wait_status(app_id, "web", "up", ready=1)
                    stack.wait_status(app_id, "worker", "up", ready=2)
                    deployments = f"/apis/apps/v1/namespaces/{stored['application']['namespace']}/deployments"
                    for deployment in kube.items(deployments):
                        assert deployment["metadata"]["labels"][labels.INSTALL_ID] == install_id
                for app_id in before:
                    assert stack.api.delete(f"/v1/applications/{app_id}").status_code == 200
                for stored in before.values():
                    name = stored["application"]["namespace"]
                    eventually(functools.partial(_deleting, kube, name), what=f"application {name} deleted")
            finally:
                replica.stop()
            assert replica.error is None
    finally:
        helm("uninstall", RELEASE, "--namespace", namespace, "--wait", kubeconfig=config, check=False)
        kube.delete(f"/api/v1/namespaces/{namespace}")


def _deleting(kube: Kube, namespace: str) -> bool:
    try:
        cr = kube.get(f"/apis/procplane.dev/v1alpha1/applications/{namespace}")
    except KubeError as exc:
        return exc.status == 404
    return "deletionTimestamp" in cr["metadata"]
