"""Clients for the local cluster: raw HTTPS for the launcher, the official client for users."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from tests.support.localcluster import certs


def rest(server_url: str, pki: certs.Pki, *, timeout: float = 10.0) -> httpx.Client:
    """An HTTPS client that trusts the cluster CA and authenticates as the admin."""
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))
    return httpx.Client(base_url=server_url, verify=context, timeout=timeout)


def kubernetes_api(kubeconfig: Path) -> Any:
    """A `kubernetes.client.ApiClient` for the cluster behind `kubeconfig`.

    Typed as Any because the kubernetes package ships no type information.
    """
    from kubernetes import config  # Imported late: only callers that want it pay for it.

    # The package marks itself typed but leaves this function unannotated.
    return config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
