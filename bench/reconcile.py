"""Benchmark: procplane converging N processes on the local cluster, against a baseline measured
in the same run (the same rendered manifests applied directly, with no database, queue or status).

    python -m bench.reconcile --processes 1000

Reports time to converge, API requests per process, writes on a no-op resync and the delay from
an API write to the matching apply (p50/p99), each beside its baseline and the ratio."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.store import db
from reconciler.k8s import client as kube
from reconciler.k8s import crds
from reconciler.render import manifests as render
from reconciler.runner import Reconciler, render_options
from tests.support.localcluster import launcher

TOKEN = "pp_bench_token_0123456789abcdef"
PROCESSES_PER_APP = 10


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(interval)
    return time.monotonic() - started


class ReconcilerInThread:
    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            await self.reconciler.run(self.stop_event)

        asyncio.run(run())

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.loop and self.stop_event:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)

    def resync(self) -> None:
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.reconciler.resync(), self.loop).result(60)


def run(processes: int, samples: int, cluster: launcher.LocalCluster, workdir: Path) -> dict[str, float]:
    apps = max(1, processes // PROCESSES_PER_APP)
    settings = Settings(
        database_url=normalize_database_url(f"sqlite:///{workdir / 'bench.db'}"),
        bootstrap_token=TOKEN,
        max_processes_per_application=PROCESSES_PER_APP,
    )
    raw_kube = kube.Kube(cluster.api_client())
    crds.install(raw_kube)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    procfile = "".join(f"worker{i}: run {i}\n" for i in range(PROCESSES_PER_APP)).encode()
    figures: dict[str, float] = {}
    with TestClient(create_app(settings)) as api:
        app_ids = []
        for index in range(apps):
            created = api.post(
                "/v1/applications", json={"name": f"bench{index}", "image": "nginx:1.27"}, headers=headers
            )
            app_ids.append(created.json()["id"])
            api.put(f"/v1/applications/{app_ids[-1]}/procfile", content=procfile,
                    headers={**headers, "Content-Type": "text/plain"})  # fmt: skip
        total = apps * PROCESSES_PER_APP
        factory = db.session_factory(db.create_engine(settings.database_url))
        reconciler = Reconciler(settings, cluster.api_client(), factory, workers=4, resync_seconds=3600,
                                lease_name=f"bench-{uuid.uuid4().hex[:6]}")  # fmt: skip
        replica = ReconcilerInThread(reconciler)

        def all_up() -> bool:
            listed = [
                api.get(f"/v1/applications/{a}/processes", params={"limit": 100}, headers=headers).json()["data"]
                for a in app_ids
            ]
            return all(p["status"] == "up" for page in listed for p in page)

        started = time.monotonic()
        replica.start()
        wait_until(all_up, 1800, "convergence", interval=1.0)
        figures["converge_seconds"] = time.monotonic() - started
        requests = reconciler.kube.requests.total
        figures["requests_per_process"] = requests / total

        writes_before, passes_before = reconciler.kube.requests.writes, reconciler.passes
        replica.resync()
        wait_until(lambda: reconciler.passes >= passes_before + apps, 300, "the resync passes")
        figures["noop_resync_writes"] = reconciler.kube.requests.writes - writes_before

        # API write -> apply: toggle one worker's instance count and time until the apiserver has it.
        rest = cluster.rest()
        delays = []
        app_id = app_ids[0]
        worker = api.get(f"/v1/applications/{app_id}/processes", headers=headers).json()["data"][0]
        namespace = api.get(f"/v1/applications/{app_id}", headers=headers).json()["namespace"]
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/bench0-{worker['key']}"
        for sample in range(samples):
            count = 2 if sample % 2 == 0 else 1
            body = {"scaling_strategy": {"type": "manual", "config": {"instanceCount": count}}}
            began = time.monotonic()
            api.patch(f"/v1/applications/{app_id}/processes/{worker['id']}", json=body, headers=headers)
            wait_until(lambda c=count: rest.get(path).json()["spec"]["replicas"] == c, 60, "the apply", 0.005)
            delays.append(time.monotonic() - began)
        figures["write_to_apply_p50_ms"] = percentile(delays, 0.5) * 1000
        figures["write_to_apply_p99_ms"] = percentile(delays, 0.99) * 1000
        replica.stop()

        # Baseline: the same manifests, applied straight to the apiserver by one loop.
        desired = [asyncio.run(_load(factory, a)) for a in app_ids]
        baseline_kube = kube.Kube(cluster.api_client())
        applied: dict[tuple[str, str], dict[str, Any]] = {}
        began = time.monotonic()
        for app in desired:
            raw = msgspec.structs.replace(app.app, namespace=app.app.namespace + "-raw")
            manifests = render.render_application(raw, app.processes, render_options(settings),
                                                  application_cr_uid=str(uuid.uuid4()))  # fmt: skip
            for manifest in manifests:
                if manifest["kind"] in ("Application", "Process"):
                    continue
                manifest["metadata"].pop("ownerReferences", None)
                baseline_kube.apply(manifest)
                applied[(manifest["metadata"].get("namespace", ""), manifest["metadata"]["name"])] = manifest
        deployments = total

        def raw_ready() -> bool:
            items, _ = baseline_kube.list("Deployment", label_selector="app.kubernetes.io/managed-by=procplane")
            ready = [d for d in items if d["metadata"]["namespace"].endswith("-raw")
                     and d.get("status", {}).get("readyReplicas", 0) >= 1]  # fmt: skip
            return len(ready) >= deployments

        wait_until(raw_ready, 1800, "the baseline to become ready", interval=1.0)
        figures["baseline_converge_seconds"] = time.monotonic() - began
        figures["baseline_requests_per_process"] = baseline_kube.requests.total / total
        base_delays = []
        manifest = applied[(namespace + "-raw", f"bench0-{worker['key']}")]
        for sample in range(samples):
            manifest["spec"]["replicas"] = 2 if sample % 2 == 0 else 1
            began = time.monotonic()
            baseline_kube.apply(manifest)
            base_delays.append(time.monotonic() - began)
        figures["baseline_apply_p50_ms"] = percentile(base_delays, 0.5) * 1000
        figures["baseline_apply_p99_ms"] = percentile(base_delays, 0.99) * 1000
        rest.close()
    return figures


async def _load(factory: Any, app_id: str) -> Any:
    from reconciler.converge.source import Source

    return await Source(factory).load(app_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=50, help="API write -> apply samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="procplane-bench-") as tmp:
        # A KWOK node offers 32 CPUs and 110 pods; each process asks for 500m, and the baseline
        # runs a second copy of every pod: room for both.
        nodes = max(3, args.processes // 25 + 1)
        cluster = launcher.LocalCluster(Path(tmp) / "cluster", nodes=nodes)
        cluster.start()
        try:
            figures = run(args.processes, args.samples, cluster, Path(tmp))
        finally:
            cluster.stop()
    print(f"processes: {args.processes}")
    rows = [
        ("time to converge (s)", "converge_seconds", "baseline_converge_seconds"),
        ("API requests per process", "requests_per_process", "baseline_requests_per_process"),
        ("API write -> apply p50 (ms)", "write_to_apply_p50_ms", "baseline_apply_p50_ms"),
        ("API write -> apply p99 (ms)", "write_to_apply_p99_ms", "baseline_apply_p99_ms"),
    ]
    print(f"{'figure':32} {'procplane':>12} {'baseline':>12} {'ratio':>8}")
    for label, ours, base in rows:
        print(f"{label:32} {figures[ours]:12.1f} {figures[base]:12.1f} {figures[ours] / figures[base]:8.2f}")
    print(f"{'writes on a no-op resync':32} {figures['noop_resync_writes']:12.0f}")


if __name__ == "__main__":
    main()
