"""Manifests the cluster tests create: minimal, and valid under Pod Security "restricted"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.localcluster.testing import Kube

IMAGE = "registry.example/procplane-test:1"


def pod_spec(*, restart_policy: str = "Always") -> dict[str, Any]:
    return {
        "restartPolicy": restart_policy,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "app",
                "image": IMAGE,
                "command": ["/bin/sh", "-c", "exec sleep infinity"],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }


def template(labels: dict[str, str], *, restart_policy: str = "Always",
             annotations: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {"labels": labels, "annotations": annotations or {}},
        "spec": pod_spec(restart_policy=restart_policy),
    }


def manifest(api_version: str, kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def deployment(name: str, *, replicas: int = 2, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": template(labels, annotations=annotations),
    }
    return manifest("apps/v1", "Deployment", {"name": name, "labels": labels}, spec)


def job(name: str, *, backoff_limit: int = 0, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec = {
        "backoffLimit": backoff_limit,
        "template": template({"job": name}, restart_policy="Never", annotations=annotations),
    }
    return manifest("batch/v1", "Job", {"name": name}, spec)


def cronjob(name: str, schedule: str) -> dict[str, Any]:
    spec = {
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": {"template": template({"cron": name}, restart_policy="Never")}},
    }
    return manifest("batch/v1", "CronJob", {"name": name}, spec)


def pod(name: str, spec: dict[str, Any], *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return manifest("v1", "Pod", {"name": name, "annotations": annotations or {}}, spec)


def condition(obj: dict[str, Any], kind: str) -> str | None:
    """Status of the condition `kind` on `obj`, None when absent."""
    for item in obj.get("status", {}).get("conditions", []):
        if item.get("type") == kind:
            status: str = item.get("status", "")
            return status
    return None


def fetch_when(kube: Kube, path: str, test: Callable[[dict[str, Any]], bool]) -> Callable[[], dict[str, Any] | None]:
    """A probe for `eventually`: the object at `path` once `test` holds for it."""

    def probe() -> dict[str, Any] | None:
        obj = kube.get(path)
        return obj if test(obj) else None

    return probe


def has_condition(kind: str, status: str = "True") -> Callable[[dict[str, Any]], bool]:
    return lambda obj: condition(obj, kind) == status
