"""The embedded default: with no kubeconfig configured, procplane talks to the local cluster.

Resolution order, as kubectl's: an explicit path, then $KUBECONFIG, then ~/.kube/config;
only when none exists is the local cluster used, started (detached) if it is not running.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.localcluster import launcher

STATE_DIR_ENV = "PROCPLANE_CLUSTER_DIR"
DEFAULT_STATE_DIR = Path(".procplane") / "cluster"


def state_dir(explicit: str | Path | None = None) -> Path:
    return Path(explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()


def configured_kubeconfig(explicit: str | Path | None = None) -> Path | None:
    """The kubeconfig the user configured, if any."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), None)
    if first:
        return Path(first)
    home = Path.home() / ".kube" / "config"
    return home if home.is_file() else None


def local_cluster(directory: str | Path | None = None) -> launcher.LocalCluster:
    """The local cluster in `directory`, started detached unless it already runs."""
    where = state_dir(directory)
    running = launcher.LocalCluster.attach(where)
    if running is not None and all(running.running().values()):
        return running
    if running is not None:
        running.stop()
    return launcher.LocalCluster(where, tie_to_parent=False).start()


def kubeconfig(explicit: str | Path | None = None, *, directory: str | Path | None = None) -> Path:
    """The kubeconfig procplane should use: the configured one, else the local cluster's."""
    configured = configured_kubeconfig(explicit)
    if configured is not None:
        return configured
    return local_cluster(directory).kubeconfig_path
