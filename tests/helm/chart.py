"""The chart under test and the tools that check it: helm (built by localcluster) and checkov
(installed from tests/helm/checkov's lock by `make checkov`)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.localcluster import build, versions

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "procplane"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CHECKOV_PROJECT = Path(__file__).resolve().parent / "checkov"
CHECKOV_ENV = Path(os.environ.get("CHECKOV_ENV") or ROOT / ".procplane" / "tools" / "checkov")


@functools.cache
def helm_binary() -> Path:
    """The pinned helm, built on first use like every localcluster tool."""
    build.ensure([versions.HELM])
    return build.binary_path("helm")


def helm(*args: str, kubeconfig: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [str(helm_binary()), *args]
    if kubeconfig is not None:
        command += ["--kubeconfig", str(kubeconfig)]
    # No repository cache or plugins of the machine's user leak into the run.
    env = {**os.environ, "HELM_CACHE_HOME": "/nonexistent-cache", "HELM_NO_PLUGINS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def values_args(scenario: str | None = None, overrides: Sequence[str] = ()) -> list[str]:
    args = ["-f", str(SCENARIOS / f"{scenario}.yaml")] if scenario else []
    for override in overrides:
        args += ["--set", override]
    return args


def template(
    scenario: str | None = None, overrides: Sequence[str] = (), *, namespace: str = "procplane", release: str = "pp"
) -> list[dict[str, Any]]:
    """`helm template` of the chart: every rendered object, hooks included."""
    out = helm("template", release, str(CHART), "--namespace", namespace, *values_args(scenario, overrides)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def template_error(overrides: Sequence[str] = (), scenario: str | None = None) -> str:
    """The error of a `helm template` that must fail."""
    result = helm("template", "pp", str(CHART), *values_args(scenario, overrides), check=False)
    assert result.returncode != 0, "helm template accepted values it should refuse"
    return result.stderr


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    everything = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(found) == 1, f"{kind}/{name}: found {len(found)} in {everything}"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every pod the objects create."""
    found: list[tuple[str, dict[str, Any]]] = []
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Pod":
            found.append((label, obj["spec"]))
        elif obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            found.append((label, obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "CronJob":
            found.append((label, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return found


def checkov_binary() -> Path:
    """checkov from its own locked environment (a no-op sync when `make checkov` already ran)."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(CHECKOV_ENV)
    # `uv run` names itself in $UV; otherwise uv is on PATH or a module of the system Python.
    uv = os.environ.get("UV") or shutil.which("uv")
    command = [uv] if uv else ["/usr/bin/env", "-u", "VIRTUAL_ENV", "python3", "-m", "uv"]
    subprocess.run(
        [*command, "sync", "--frozen", "--quiet", "--project", str(CHECKOV_PROJECT)], check=True, env=env, timeout=600
    )
    return CHECKOV_ENV / "bin" / "checkov"
