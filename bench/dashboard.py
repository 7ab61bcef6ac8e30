"""The Grafana dashboard's panels drawn from a real run, for the README (docs/dashboard.png).

    python3 -m uv run --group docs python -m bench.dashboard --minutes 4

Starts the local cluster and a real `procplane serve` on it (SQLite, CRDs installed), runs a small
load against the API for a few minutes (applications and processes created, scaled and deployed,
reads, refused requests, a burst of reads over a key's rate limit, a crash-looping worker whose
down alert is delivered to a local webhook receiver) and scrapes `/metrics` every few seconds,
as Prometheus would. Then it evaluates each panel's query of helm/procplane/dashboards/procplane.json
on the scraped samples and plots them with matplotlib, one subplot per panel.

Grafana is not involved: the picture is matplotlib's. The queries are the dashboard's own, read
from its JSON and evaluated by the small PromQL subset below (rate, sum/max by, and
histogram_quantile, the only forms the dashboard uses), with rate windows shortened from 5m to
1m because the run lasts minutes, not hours."""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.localcluster import launcher

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "helm" / "procplane" / "dashboards" / "procplane.json"
TOKEN = "pp_dashboard_run_token_0123456789"
RATE_WINDOW_SECONDS = 60.0
SCRAPE_SECONDS = 5.0

Labels = frozenset[tuple[str, str]]
Scrape = tuple[float, dict[str, dict[Labels, float]]]  # (time, {metric: {labels: value}})


# ---- a PromQL subset, evaluated on scrapes ----


def _value_at(scrapes: list[Scrape], index: int, metric: str) -> dict[Labels, float]:
    return scrapes[index][1].get(metric, {})


def _rate(scrapes: list[Scrape], index: int, metric: str, window: float) -> dict[Labels, float]:
    now, _ = scrapes[index]
    start = next((i for i in range(index, -1, -1) if scrapes[i][0] <= now - window), 0)
    if start == index:
        return {}
    elapsed = now - scrapes[start][0]
    before, after = _value_at(scrapes, start, metric), _value_at(scrapes, index, metric)
    # A series that appeared inside the window started from zero (procplane creates a labelled
    # series at its first increment).
    return {labels: max(0.0, value - before.get(labels, 0.0)) / elapsed for labels, value in after.items()}


def _group(values: dict[Labels, float], by: list[str], how: str) -> dict[Labels, float]:
    grouped: dict[Labels, list[float]] = {}
    for labels, value in values.items():
        key = frozenset((name, value_) for name, value_ in labels if name in by)
        grouped.setdefault(key, []).append(value)
    return {key: (sum(vs) if how == "sum" else max(vs)) for key, vs in grouped.items()}


def _quantile(q: float, buckets: dict[Labels, float]) -> dict[Labels, float]:
    series: dict[Labels, list[tuple[float, float]]] = {}
    for labels, count in buckets.items():
        le = dict(labels)["le"]
        series.setdefault(frozenset(p for p in labels if p[0] != "le"), []).append((float(le), count))
    result = {}
    for labels, points in series.items():
        points.sort()
        total = points[-1][1]
        if total <= 0:
            continue
        rank, lower, below = q * total, 0.0, 0.0
        for upper, count in points:
            if count >= rank:
                if math.isinf(upper):
                    result[labels] = lower
                else:
                    result[labels] = lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
                break
            lower, below = upper, count
    return result


def evaluate(expr: str, scrapes: list[Scrape], index: int) -> dict[Labels, float]:
    expr = expr.strip()
    if match := re.fullmatch(r"histogram_quantile\(([\d.]+), (.+)\)", expr):
        return _quantile(float(match[1]), evaluate(match[2], scrapes, index))
    if match := re.fullmatch(r"(sum|max)(?: by \(([^)]*)\))? ?\((.+)\)", expr):
        by = [name.strip() for name in (match[2] or "").split(",") if name.strip()]
        return _group(evaluate(match[3], scrapes, index), by, match[1])
    if match := re.fullmatch(r"rate\((\w+)\[\w+\]\)", expr):
        return _rate(scrapes, index, match[1], RATE_WINDOW_SECONDS)
    if re.fullmatch(r"\w+", expr):
        return _value_at(scrapes, index, expr)
    raise ValueError(f"not in the PromQL subset this script evaluates: {expr}")


def legend(template: str, labels: Labels) -> str:
    found = dict(labels)
    return re.sub(r"\{\{(\w+)\}\}", lambda m: found.get(m[1], ""), template).strip() or "value"


# ---- the run ----


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parse(text: str) -> dict[str, dict[Labels, float]]:
    found: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return found


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that accepts every delivery."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(cluster: launcher.LocalCluster, workdir: Path, receiver_port: int) -> Iterator[tuple[str, str]]:
    api_port, health_port = free_port(), free_port()
    env = {
        **os.environ,
        "PROCPLANE_DATABASE_URL": f"sqlite:///{workdir / 'procplane.db'}",
        "PROCPLANE_KUBECONFIG": str(cluster.kubeconfig_path),
        "PROCPLANE_BOOTSTRAP_TOKEN": TOKEN,
        "PROCPLANE_LEASE_NAMESPACE": "default",
        "PROCPLANE_OBSERVE_INTERVAL_SECONDS": "5",
        "PROCPLANE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PROCPLANE_WEBHOOK_RETRY_BASE_SECONDS": "2",
        "PROCPLANE_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).parent / "procplane"), "serve", "--install-crds", "--port", str(api_port),
               "--health-port", str(health_port)]  # fmt: skip
    with (workdir / "serve.log").open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=workdir)
        try:
            api, health = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{health_port}"
            deadline = time.monotonic() + 120
            while True:
                try:  # both halves: the API and the reconciler
                    if all(httpx.get(f"{base}/readyz", timeout=2).status_code == 200 for base in (api, health)):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"procplane serve did not become ready; see {workdir / 'serve.log'}")
                time.sleep(0.5)
            yield api, health
        finally:
            server.terminate()
            server.wait(30)


class Load:
    """A small, mixed load: what a few developers and a CI pipeline do to procplane."""

    def __init__(self, api: str, receiver_port: int) -> None:
        self.http = httpx.Client(base_url=f"{api}/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        self.receiver_port = receiver_port
        self.apps: list[dict[str, Any]] = []
        self.viewer = ""

    def setup(self, count: int) -> None:
        key = self.http.post("/api-keys", json={"name": "dashboard-viewer", "role": "viewer"}).json()
        self.viewer = key["token"]
        for index in range(count):
            app = self.http.post("/applications", json={"name": f"shop{index}", "image": "nginx:1.27"}).json()
            procfile = "web: run\nworker: work\n"
            self.http.put(f"/applications/{app['id']}/procfile", content=procfile,
                          headers={"Content-Type": "text/plain"})  # fmt: skip
            self.apps.append(app)
        # A worker that crash-loops, so a down alert fires and its webhook is delivered.
        broken = self.http.post("/applications", json={"name": "broken", "image": "nginx:simulate-crashloop"}).json()
        self.http.put(f"/applications/{broken['id']}/procfile", content="worker: crash\n",
                      headers={"Content-Type": "text/plain"})  # fmt: skip
        worker = self.http.get(f"/applications/{broken['id']}/processes").json()["data"][0]
        self.http.patch(
            f"/applications/{broken['id']}/processes/{worker['id']}/alert-rules",
            json={"webhook_url": f"http://127.0.0.1:{self.receiver_port}/hook"},
        )

    def step(self, rng: random.Random) -> None:
        app = rng.choice(self.apps)
        roll = rng.random()
        if roll < 0.35:
            self.http.get(f"/applications/{app['id']}/processes")
        elif roll < 0.55:
            self.http.get("/applications")
        elif roll < 0.65:
            listed = self.http.get(f"/applications/{app['id']}/processes")
            if listed.status_code != 200:  # a refusal (429, 503) is part of the picture, not a failure
                return
            worker = next(p for p in listed.json()["data"] if p["key"] == "worker")
            count = rng.randint(1, 3)
            scaling = {"type": "manual", "config": {"instanceCount": count}}
            self.http.patch(f"/applications/{app['id']}/processes/{worker['id']}", json={"scaling_strategy": scaling})
        elif roll < 0.72:
            self.http.get(f"/applications/{app['id']}/processes/00000000-0000-4000-8000-000000000000")
        elif roll < 0.78:
            self.http.post("/applications", json={"name": "Not A DNS Label!", "image": "nginx:1.27"})
        elif roll < 0.80:
            self.http.post(f"/applications/{app['id']}/deployments", json={"image": f"nginx:1.{rng.randint(20, 29)}"})
        else:
            self.http.get(f"/applications/{app['id']}")

    def burst(self) -> None:
        """More reads than the viewer key's budget (400 a minute): the rest are refused 429."""
        for _ in range(450):
            self.http.get("/applications", headers={"Authorization": f"Bearer {self.viewer}"})


def run(minutes: float, workdir: Path) -> list[Scrape]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    cluster = launcher.LocalCluster(workdir / "cluster", nodes=3)
    cluster.start()
    scrapes: list[Scrape] = []
    try:
        with serving(cluster, workdir, int(receiver.server_address[1])) as (api, _):
            stop = threading.Event()

            def scrape() -> None:
                while not stop.is_set():
                    try:
                        text = httpx.get(f"{api}/metrics", timeout=10).text
                    except httpx.HTTPError as exc:  # the server went away: the run is over
                        print(f"scrape failed: {exc}", file=sys.stderr)
                        return
                    scrapes.append((time.time(), parse(text)))
                    stop.wait(SCRAPE_SECONDS)

            scraper = threading.Thread(target=scrape, daemon=True)
            scraper.start()
            load = Load(api, int(receiver.server_address[1]))
            load.setup(8)
            rng = random.Random(16)
            deadline = time.monotonic() + minutes * 60
            next_burst = time.monotonic() + 45
            while time.monotonic() < deadline:
                load.step(rng)
                if time.monotonic() > next_burst:
                    load.burst()
                    next_burst = time.monotonic() + 60
                time.sleep(0.15)
            stop.set()
            scraper.join(30)
    finally:
        cluster.stop()
        receiver.shutdown()
    return scrapes


def plot(scrapes: list[Scrape], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    columns = 3
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(18, 4.2 * rows), squeeze=False)
    start = scrapes[0][0]
    times = [(moment - start) / 60 for moment, _ in scrapes]
    for axis, panel in zip(axes.flat, panels, strict=False):
        for target in panel["targets"]:
            lines: dict[str, list[float]] = {}
            for index in range(len(scrapes)):
                for labels, value in evaluate(target["expr"], scrapes, index).items():
                    name = legend(target["legendFormat"], labels)
                    lines.setdefault(name, [math.nan] * len(scrapes))[index] = value
            for name, values in sorted(lines.items()):
                axis.plot(times, values, label=name, linewidth=1.4)
        unit = panel["fieldConfig"]["defaults"]["unit"]
        axis.set_title(panel["title"], fontsize=11, loc="left")
        axis.set_xlabel("minutes into the run", fontsize=8)
        axis.set_ylabel({"reqps": "per second", "ops": "per second", "s": "seconds"}.get(unit, ""), fontsize=8)
        axis.tick_params(labelsize=8)
        axis.grid(alpha=0.3)
        handles, labels = axis.get_legend_handles_labels()
        if handles:
            axis.legend(fontsize=7, loc="upper left", ncol=2 if len(handles) > 4 else 1)
        else:
            axis.text(0.5, 0.5, "no data in this run", ha="center", va="center", transform=axis.transAxes)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(
        "procplane dashboard: its panels' queries on /metrics scraped every 5 s from a real `procplane serve` "
        "under a small load (drawn with matplotlib, not Grafana)",
        fontsize=12,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(output, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--scrapes", type=Path, help="also keep the scraped samples here (JSON)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="procplane-dashboard-") as tmp:
        scrapes = run(args.minutes, Path(tmp))
    if args.scrapes:
        args.scrapes.write_text(json.dumps([(t, {m: [[dict(k), v] for k, v in s.items()] for m, s in d.items()})
                                            for t, d in scrapes]))  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    plot(scrapes, args.output)
    print(f"{len(scrapes)} scrapes over {(scrapes[-1][0] - scrapes[0][0]) / 60:.1f} min -> {args.output}")


if __name__ == "__main__":
    main()
