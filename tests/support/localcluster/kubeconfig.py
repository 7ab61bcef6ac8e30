"""Kubeconfig files for the local cluster, with the credentials embedded.

Embedding (rather than pointing at files) keeps each kubeconfig usable on its own: it can
be copied, exported as KUBECONFIG, or loaded by any client library without the PKI dir.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

CLUSTER_NAME = "procplane-local"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write(path: Path, *, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)},
            }
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path
