"""Start and stop a whole local cluster: etcd, apiserver, controller-manager, scheduler, KWOK.

`LocalCluster` is used the same way by the test fixture (tied to the test process: if
that dies, the kernel kills the components) and by `python -m tests.support.localcluster up`
(detached: the components outlive the command and `down` finds them through the state
file). Every start is a fresh cluster: new PKI, new ports, empty etcd.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.localcluster import build, certs, client, components, kubeconfig, ports, processes, state, versions

DEFAULT_NODES = 3
_CLIENT_COMPONENTS = {"kwok", "kube-scheduler", "kube-controller-manager", "metrics-server"}
_ALL_COMPONENTS = _CLIENT_COMPONENTS | {"kube-apiserver", "etcd"}
_START_ATTEMPTS = 2
ZONES = ("zone-a", "zone-b", "zone-c")

Log = Callable[[str], None]


class ClusterError(RuntimeError):
    """The cluster could not be started or stopped; the message says which component and why."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _log_tail(path: str, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class LocalCluster:
    def __init__(
        self,
        state_dir: Path,
        *,
        nodes: int = DEFAULT_NODES,
        tie_to_parent: bool = True,
        build_missing: bool = True,
        log: Log = _stderr,
    ) -> None:
        self.layout = components.Layout(state_dir.resolve())
        self.nodes = nodes
        self.tie_to_parent = tie_to_parent
        self.build_missing = build_missing
        self.log = log
        self.server_url = ""
        self.ports: components.Ports | None = None
        self.components: list[processes.Component] = []
        self.started_at = 0.0
        self.startup_seconds = 0.0

    @property
    def state_dir(self) -> Path:
        return self.layout.root

    @property
    def kubeconfig_path(self) -> Path:
        return self.layout.kubeconfig

    @property
    def pki(self) -> certs.Pki:
        return certs.paths(self.layout.pki_dir)

    @property
    def node_names(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(self.nodes)]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, *, timeout: float = 120.0) -> LocalCluster:
        previous = state.load(self.state_dir)
        if previous is not None and any(processes.is_running(c) for c in previous.components):
            raise ClusterError(
                f"a cluster is already running from {self.state_dir} ({previous.server_url}); stop it first"
            )
        self._ensure_tools()
        began = time.monotonic()
        for attempt in range(_START_ATTEMPTS):
            try:
                self._start_once(timeout)
                break
            except ClusterError as exc:
                # A port picked as free can be taken (say, by an outgoing connection) before
                # the component binds it; that is worth one more try with fresh ports.
                if "address already in use" not in str(exc) or attempt == _START_ATTEMPTS - 1:
                    raise
                self.log("a port was taken during startup; retrying with fresh ports")
        self.startup_seconds = time.monotonic() - began
        self.log(f"cluster ready at {self.server_url} in {self.startup_seconds:.1f}s")
        self.log(f"kubeconfig: {self.kubeconfig_path}")
        return self

    def _start_once(self, timeout: float) -> None:
        self._reset_dir()
        self.started_at = 0.0
        self.ports = components.Ports(*ports.free_ports(7))
        self.server_url = f"https://{ports.LOOPBACK}:{self.ports.apiserver}"
        pki = certs.generate(self.layout.pki_dir, service_ip=components.SERVICE_IP)
        self._write_kubeconfigs(pki)
        deadline = time.monotonic() + timeout
        try:
            self._start_etcd(deadline)
            self._start_apiserver(pki, deadline)
            self._spawn("kube-controller-manager", components.controller_manager(self.layout, self.ports, pki))
            self._spawn("kube-scheduler", components.scheduler(self.layout, self.ports, pki))
            self._spawn("kwok", components.kwok(self.layout, self.ports, pki), env={"HOME": str(self.layout.kwok_home)})
            self._spawn("metrics-server", components.metrics_server(self.layout, self.ports, pki))
            with client.rest(self.server_url, pki) as http:
                self._register_nodes(http)
                self._register_metrics_api(http)
                self._wait_settled(http, pki, deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component (also those of a cluster recorded by an earlier process)."""
        known = list(self.components)
        recorded = state.load(self.state_dir)
        if recorded is not None:
            known += [c for c in recorded.components if c not in known]
        # In waves: an apiserver whose etcd is gone retries until its own timeouts run out,
        # so clients stop first, then the apiserver, and etcd last.
        survivors: list[str] = []
        for wave in (_CLIENT_COMPONENTS, {"kube-apiserver"}, {"etcd"}):
            survivors += processes.stop([c for c in known if c.name in wave])
        survivors += processes.stop([c for c in known if c.name not in _ALL_COMPONENTS])
        self.components = []
        if survivors:
            raise ClusterError(f"could not stop: {', '.join(survivors)}")
        held = self._held_ports(recorded)
        if held:
            raise ClusterError(f"ports still listening after stop: {held}")
        state.remove(self.state_dir)
        # A kubeconfig left behind would point clients at a dead port; its absence is how
        # tools tell that no local cluster runs. Logs stay for a look afterwards.
        self.kubeconfig_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    def attach(cls, state_dir: Path, *, log: Log = _stderr) -> LocalCluster | None:
        """The cluster recorded in `state_dir`, if its components are still running."""
        recorded = state.load(state_dir)
        if recorded is None:
            return None
        cluster = cls(state_dir, tie_to_parent=False, build_missing=False, log=log)
        cluster.server_url = recorded.server_url
        cluster.ports = components.Ports(**recorded.ports)
        cluster.components = list(recorded.components)
        cluster.started_at = recorded.started_at
        return cluster

    # -- use ---------------------------------------------------------------------------

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` authenticated as cluster admin."""
        return client.kubernetes_api(self.kubeconfig_path)

    def rest(self) -> httpx.Client:
        """An httpx client with base_url set to the apiserver, authenticated as cluster admin."""
        return client.rest(self.server_url, self.pki)

    def running(self) -> dict[str, bool]:
        return {c.name: processes.is_running(c) for c in self.components}

    def memory(self) -> dict[str, int]:
        """Resident memory in bytes per component."""
        return {c.name: processes.rss_bytes(c.pid) for c in self.components}

    # -- steps -------------------------------------------------------------------------

    def _ensure_tools(self) -> None:
        missing = [t for t in versions.CLUSTER if not build.is_built(t)]
        if not missing:
            return
        if not self.build_missing:
            names = ", ".join(t.key for t in missing)
            raise ClusterError(f"tools not built: {names} (run `python -m tests.support.localcluster build`)")
        build.ensure(missing, log=self.log)

    def _reset_dir(self) -> None:
        for child in ("pki", "etcd", "logs", "kubeconfigs", "kwok-home"):
            shutil.rmtree(self.state_dir / child, ignore_errors=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.layout.kwok_home.mkdir()

    def _write_kubeconfigs(self, pki: certs.Pki) -> None:
        ca = pki.ca.cert
        kubeconfig.write(
            self.kubeconfig_path, server=self.server_url, ca=ca, cert=pki.admin.cert, key=pki.admin.key,
            user="procplane-admin",
        )  # fmt: skip
        for name, pair in (
            ("controller-manager", pki.controller_manager),
            ("scheduler", pki.scheduler),
            ("kwok", pki.kwok),
            ("metrics-server", pki.admin),
        ):
            kubeconfig.write(
                self.layout.component_kubeconfig(name), server=self.server_url, ca=ca, cert=pair.cert,
                key=pair.key, user=name,
            )  # fmt: skip

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, **(env or {})}
        _, component = processes.spawn(
            name, argv, log=self.layout.log(name), env=full_env, tie_to_parent=self.tie_to_parent
        )
        self.components.append(component)
        # Recorded at once, so even an interrupted `up` leaves what it started findable.
        self._save_state()

    def _check_alive(self) -> None:
        for component in self.components:
            if not processes.is_running(component):
                raise ClusterError(
                    f"{component.name} exited during startup; last lines of {component.log}:\n"
                    + _log_tail(component.log)
                )

    def _wait(self, what: str, deadline: float, probe: Callable[[], bool]) -> None:
        while True:
            self._check_alive()
            try:
                if probe():
                    return
            except (httpx.HTTPError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def _start_etcd(self, deadline: float) -> None:
        assert self.ports is not None
        self.layout.etcd_dir.mkdir(mode=0o700)
        self._spawn("etcd", components.etcd(self.layout, self.ports))
        url = f"http://{ports.LOOPBACK}:{self.ports.etcd_client}/health"

        def healthy() -> bool:
            response = httpx.get(url, timeout=2)
            return response.status_code == 200 and response.json().get("health") == "true"

        self._wait("etcd /health", deadline, healthy)

    def _start_apiserver(self, pki: certs.Pki, deadline: float) -> None:
        assert self.ports is not None
        self._spawn("kube-apiserver", components.apiserver(self.layout, self.ports, pki))
        with client.rest(self.server_url, pki, timeout=5) as http:
            self._wait("kube-apiserver /readyz", deadline, lambda: http.get("/readyz").text == "ok")

    def _register_nodes(self, http: httpx.Client) -> None:
        for index, name in enumerate(self.node_names):
            manifest = components.node_manifest(name, ZONES[index % len(ZONES)])
            response = http.post("/api/v1/nodes", json=manifest)
            if response.status_code not in (200, 201, 409):
                raise ClusterError(f"registering node {name} failed: {response.status_code} {response.text}")

    def _register_metrics_api(self, http: httpx.Client) -> None:
        """metrics.k8s.io through the aggregation layer; metrics-server answers once it has
        scraped KWOK's nodes, which nothing here waits for (`wait_for_metrics` does)."""
        assert self.ports is not None
        for path, manifest in components.metrics_api_objects(self.ports):
            response = http.post(path, json=manifest)
            if response.status_code not in (200, 201, 409):
                raise ClusterError(f"registering the metrics API failed: {response.status_code} {response.text}")

    def wait_for_metrics(self, timeout: float = 90.0) -> None:
        """Block until metrics.k8s.io reports node usage (metrics-server needs a scrape or two)."""
        deadline = time.monotonic() + timeout

        def reporting(http: httpx.Client) -> bool:
            response = http.get("/apis/metrics.k8s.io/v1beta1/nodes")
            return response.status_code == 200 and bool(response.json().get("items"))

        with self.rest() as http:
            self._wait("the metrics.k8s.io API", deadline, lambda: reporting(http))

    def _wait_settled(self, http: httpx.Client, pki: certs.Pki, deadline: float) -> None:
        assert self.ports is not None
        for name, port in (
            ("kube-controller-manager", self.ports.controller_manager),
            ("kube-scheduler", self.ports.scheduler),
        ):
            with client.rest(f"https://{ports.LOOPBACK}:{port}", pki, timeout=2) as probe:
                self._wait(f"{name} /healthz", deadline, lambda: probe.get("/healthz").text == "ok")

        def nodes_ready() -> bool:
            items = http.get("/api/v1/nodes").json().get("items", [])
            ready = {
                n["metadata"]["name"]
                for n in items
                for c in n.get("status", {}).get("conditions", [])
                if c["type"] == "Ready" and c["status"] == "True"
            }
            return set(self.node_names) <= ready

        self._wait("KWOK nodes to be Ready", deadline, nodes_ready)
        # Pods can only be created once their namespace's `default` ServiceAccount
        # exists, which the controller-manager adds; callers should not race it.
        self._wait(
            "the default ServiceAccount",
            deadline,
            lambda: http.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200,
        )

    def _save_state(self) -> None:
        assert self.ports is not None
        self.started_at = self.started_at or time.time()
        state.save(
            self.state_dir,
            state.ClusterState(
                server_url=self.server_url,
                kubeconfig=str(self.kubeconfig_path),
                ports=dict(self.ports.__dict__),
                components=tuple(self.components),
                started_at=self.started_at,
            ),
        )

    def _held_ports(self, recorded: state.ClusterState | None) -> list[int]:
        candidates: set[int] = set()
        if self.ports is not None:
            candidates |= set(self.ports.__dict__.values())
        if recorded is not None:
            candidates |= set(recorded.ports.values())
        deadline = time.monotonic() + 5.0
        while True:
            held = sorted(p for p in candidates if ports.is_listening(p))
            if not held or time.monotonic() > deadline:
                return held
            time.sleep(0.1)
