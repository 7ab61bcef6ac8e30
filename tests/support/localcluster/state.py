"""The on-disk record of a running cluster, so a later command can find and stop it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tests.support.localcluster import processes

STATE_FILE = "state.json"


@dataclasses.dataclass(frozen=True)
class ClusterState:
    server_url: str
    kubeconfig: str
    ports: dict[str, int]
    components: tuple[processes.Component, ...]
    started_at: float


def path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def save(state_dir: Path, state: ClusterState) -> None:
    target = path(state_dir)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n")
    temporary.replace(target)


def load(state_dir: Path) -> ClusterState | None:
    try:
        raw: dict[str, Any] = json.loads(path(state_dir).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"unreadable cluster state {path(state_dir)}: {exc}") from exc
    return ClusterState(
        server_url=str(raw["server_url"]),
        kubeconfig=str(raw["kubeconfig"]),
        ports={str(k): int(v) for k, v in raw["ports"].items()},
        components=tuple(processes.Component(**c) for c in raw["components"]),
        started_at=float(raw["started_at"]),
    )


def remove(state_dir: Path) -> None:
    path(state_dir).unlink(missing_ok=True)
