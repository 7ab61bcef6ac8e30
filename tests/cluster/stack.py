"""procplane end to end for cluster tests: the real API (over HTTP, on SQLite) and real
reconcilers (each in its own thread and event loop) against the session's local cluster."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.store import db
from reconciler.k8s import client as kube
from reconciler.k8s import crds
from reconciler.runner import Reconciler
from tests.api.conftest import ADMIN_TOKEN, Api, make_client
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import eventually

_crds_installed = False


def install_crds(cluster: launcher.LocalCluster) -> None:
    global _crds_installed
    if not _crds_installed:
        crds.install(kube.Kube(cluster.api_client()))
        _crds_installed = True


class ReconcilerThread:
    """One reconciler replica in its own thread and event loop. `stop()` shuts it down cleanly
    (releasing its lease)."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._started.set()
            await self.reconciler.run(self._stop)

        try:
            asyncio.run(run())
        except BaseException as exc:  # surfaced to the test through `error`
            self.error = exc

    def start(self) -> ReconcilerThread:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    @property
    def writes(self) -> int:
        return self.reconciler.kube.requests.writes

    def reconcile_now(self, app_id: str) -> None:
        """Run one pass from the test thread, on the reconciler's own loop."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.reconciler.reconcile(app_id), self._loop).result(60)

    def resync_now(self) -> None:
        """Queue everything this replica considers its own, as its periodic resync does."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.reconciler.resync(), self._loop).result(60)

    def is_leading(self) -> bool:
        return self.reconciler.elector.is_leader() and self.reconciler.converger is not None


class Stack:
    def __init__(self, api: Api, settings: Settings, cluster: launcher.LocalCluster, kube_client: Any) -> None:
        self.api = api
        self.settings = settings
        self.cluster = cluster
        self.kube = kube_client  # localcluster.testing.Kube: plain REST for assertions
        self.lease_name = f"procplane-test-{uuid.uuid4().hex[:8]}"
        self.replicas: list[ReconcilerThread] = []

    def start_reconciler(
        self, *, write_allowed: Callable[[Reconciler], Callable[[], bool]] | None = None
    ) -> ReconcilerThread:
        factory = db.session_factory(db.create_engine(self.settings.database_url))
        reconciler = Reconciler(
            self.settings, self.cluster.api_client(), factory, workers=2, resync_seconds=600.0,
            lease_name=self.lease_name, lease_seconds=6.0,
        )  # fmt: skip
        if write_allowed is not None:
            reconciler.kube.write_allowed = write_allowed(reconciler)
        replica = ReconcilerThread(reconciler).start()
        self.replicas.append(replica)
        return replica

    def leader(self, timeout: float = 30.0) -> ReconcilerThread:
        return eventually(
            lambda: next((r for r in self.replicas if r.is_leading()), None), timeout=timeout, what="a leader"
        )

    def app_with_procfile(self, name: str, procfile: str, image: str = "nginx:1.27") -> dict[str, Any]:
        app = self.api.create_app(name, image=image)
        response = self.api.put(
            f"/v1/applications/{app['id']}/procfile", content=procfile.encode(), headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 200, response.text
        return app

    def process(self, app_id: str, key: str) -> dict[str, Any]:
        data = self.api.get(f"/v1/applications/{app_id}/processes", params={"limit": 100}).json()["data"]
        found: dict[str, Any] = next(p for p in data if p["key"] == key)
        return found

    def wait_status(
        self, app_id: str, key: str, state: str, ready: int | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            process = self.process(app_id, key)
            if process["status"] == state and (ready is None or process["ready_instances"] == ready):
                return process
            return None

        return eventually(check, timeout=timeout, what=f"{key} {state} with {ready} ready")


@contextmanager
def running_stack(
    tmp_path: Path, cluster: launcher.LocalCluster, kube_client: Any, **overrides: Any
) -> Iterator[Stack]:
    install_crds(cluster)
    settings = Settings(
        database_url=normalize_database_url(f"sqlite:///{tmp_path / 'procplane.db'}"),
        bootstrap_token=ADMIN_TOKEN,
        **overrides,
    )
    with make_client(settings) as client:
        stack = Stack(Api(client), settings, cluster, kube_client)
        try:
            yield stack
        finally:
            for replica in stack.replicas:
                replica.stop()
