"""procplane's CRDs: checking at start-up that the cluster serves them, installing them (local runs
and tests; the Helm chart does it in clusters) and waiting until the apiserver serves them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from reconciler.k8s import errors
from reconciler.k8s.client import KINDS, Kube

# An installed wheel carries the repository's crds/ as package data beside this module; a checkout
# (an editable install) reads them where they are kept.
_PACKAGED = Path(__file__).resolve().parent / "crds"
CRD_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "crds"
CRD_KIND = KINDS["CustomResourceDefinition"]


def definitions(directory: Path = CRD_DIR) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


def _established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def check(kube: Kube, directory: Path = CRD_DIR) -> None:
    """Refuse to start against a cluster without procplane's CRDs, naming the fix: without them
    every watch of an Application or Process would answer 404, forever, and nothing converges."""
    missing = []
    for crd in definitions(directory):
        group, names = crd["spec"]["group"], crd["spec"]["names"]
        versions = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
        if not any(names["plural"] in kube.served_resources(f"{group}/{version}") for version in versions):
            missing.append(crd["metadata"]["name"])
    if missing:
        raise errors.MissingCRDs(
            f"the cluster does not serve procplane's custom resources ({', '.join(missing)}): install the CRDs"
            " with the Helm chart (crds.enabled=true, the default) or `kubectl apply -f crds/`, or start with"
            " `--install-crds` where procplane may create CustomResourceDefinitions"
        )


def install(kube: Kube, directory: Path = CRD_DIR, *, timeout: float = 60.0) -> None:
    names = [kube.apply(crd)["metadata"]["name"] for crd in definitions(directory)]
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(kube.get(CRD_KIND.kind, None, name)):
            if time.monotonic() > deadline:
                raise errors.TemporaryError(f"CRD {name} was not established within {timeout:.0f}s")
            time.sleep(0.2)
