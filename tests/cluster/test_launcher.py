"""Starting and stopping a cluster leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.localcluster import launcher, ports, processes, state


def test_stop_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    cluster = launcher.LocalCluster(tmp_path / "cluster", nodes=1)
    with cluster:
        started = list(cluster.components)
        assert cluster.ports is not None
        listening = list(cluster.ports.__dict__.values())
        assert {c.name for c in started} == {
            "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "metrics-server",
        }  # fmt: skip
        assert all(processes.is_running(c) for c in started)
        assert state.load(cluster.state_dir) is not None
        with cluster.rest() as http:
            assert http.get("/readyz").text == "ok"

    assert not [c.name for c in started if processes.is_running(c)]
    assert not [p for p in listening if ports.is_listening(p)]
    assert state.load(cluster.state_dir) is None


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.localcluster", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_cli_up_runs_detached_until_down(tmp_path: Path) -> None:
    """What `make cluster` / `make cluster-down` do."""
    directory = str(tmp_path / "cluster")

    up = cli("up", "--state-dir", directory, "--nodes", "1")
    assert up.returncode == 0, up.stderr
    assert f"kubeconfig: {directory}/kubeconfig" in up.stdout
    found = launcher.LocalCluster.attach(Path(directory))
    assert found is not None
    # The command has exited; the cluster it started has not.
    assert all(found.running().values())
    again = cli("up", "--state-dir", directory)
    assert again.returncode == 0
    assert "already running" in again.stdout
    kubeconfig = cli("kubeconfig", "--state-dir", directory)
    assert kubeconfig.stdout.strip() == f"{directory}/kubeconfig"
    assert cli("status", "--state-dir", directory).returncode == 0

    down = cli("down", "--state-dir", directory)

    assert down.returncode == 0, down.stderr
    assert not [c.name for c in found.components if processes.is_running(c)]
    assert found.ports is not None
    assert not [p for p in found.ports.__dict__.values() if ports.is_listening(p)]
    assert cli("status", "--state-dir", directory).returncode == 1
    assert not found.kubeconfig_path.exists()
