"""Benchmark: how fast the `procplane` command answers, against the Python interpreter starting
and exiting (`python -c pass`), measured in the same run.

    python -m bench.cli --runs 5

Reports the median wall time of `procplane --help` and of `procplane render APP` (an application
with a web, a worker and a cron process, on a SQLite database made for the run), each beside the
baseline and the ratio."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url

TOKEN = "pp_bench_cli_token_0123456789"
PROCESSES = (
    {"key": "web", "type": "web", "entrypoint": "bin/web", "port": 8080},
    {"key": "worker", "type": "worker", "entrypoint": "bin/worker"},
    {"key": "report", "type": "cron", "entrypoint": "bin/report", "schedule": "0 3 * * *", "time_zone": "UTC"},
)


def seeded_database(directory: Path) -> str:
    """A SQLite database holding one application with three processes; its URL."""
    url = normalize_database_url(f"sqlite:///{directory / 'procplane.db'}")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(Settings(database_url=url, bootstrap_token=TOKEN))) as client:
        app = client.post("/v1/applications", json={"name": "shop", "image": "nginx:1.27"}, headers=headers)
        app.raise_for_status()
        for process in PROCESSES:
            created = client.post(f"/v1/applications/{app.json()['id']}/processes", json=process, headers=headers)
            created.raise_for_status()
    return url


def median_seconds(command: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command; the median is reported")
    args = parser.parse_args()
    procplane = str(Path(sys.executable).with_name("procplane"))
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROCPLANE_DATABASE_URL": seeded_database(Path(directory))}
        baseline = median_seconds([sys.executable, "-c", "pass"], args.runs, env)
        measured = {
            "procplane --help": median_seconds([procplane, "--help"], args.runs, env),
            "procplane render shop": median_seconds([procplane, "render", "shop"], args.runs, env),
        }
    print(f"median of {args.runs} runs; baseline: `python -c pass` in the same run")
    print("| command | seconds | baseline (s) | ratio |")
    print("|---|---|---|---|")
    for command, seconds in measured.items():
        print(f"| {command} | {seconds:.3f} | {baseline:.3f} | {seconds / baseline:.1f} |")


if __name__ == "__main__":
    main()
