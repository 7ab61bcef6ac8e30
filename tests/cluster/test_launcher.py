"""Starting and stopping a cluster leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from localcluster import launcher, ports, processes, state


def test_stop_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    cluster = launcher.LocalCluster(tmp_path / "cluster", nodes=1)
    with cluster:
        started = list(cluster.components)
        assert cluster.ports is not None
        listening = list(cluster.ports.__dict__.values())
        assert {c.name for c in started} == {
            "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
        }  # fmt: skip
        assert all(processes.is_running(c) for c in started)
        assert state.load(cluster.state_dir) is not None
        with cluster.rest() as http:
            assert http.get("/readyz").text == "ok"

    assert not [c.name for c in started if processes.is_running(c)]
    assert not [p for p in listening if ports.is_listening(p)]
    assert state.load(cluster.state_dir) is None


def test_a_detached_cluster_is_found_and_stopped_through_its_state_dir(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    launcher.LocalCluster(directory, nodes=1, tie_to_parent=False).start()

    found = launcher.LocalCluster.attach(directory)
    assert found is not None
    assert all(found.running().values())
    assert found.kubeconfig_path.is_file()
    components = list(found.components)
    found.stop()

    assert not [c.name for c in components if processes.is_running(c)]
    assert launcher.LocalCluster.attach(directory) is None
