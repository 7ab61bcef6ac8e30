"""Acting as a ServiceAccount of an installed release: its token, a kubeconfig with it, what
the apiserver says it may do (SelfSubjectRulesReview, the API behind `kubectl auth can-i
--list`), and a reconciler that runs with it."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import yaml

from controlplane.domain.settings import Settings
from controlplane.store import db
from reconciler.k8s import client as reconciler_kube
from reconciler.runner import Reconciler
from tests.cluster.stack import ReconcilerThread
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube


def token(kube: Kube, namespace: str, name: str) -> str:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    created = kube.create(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request)
    return str(created["status"]["token"])


def kubeconfig(cluster: launcher.LocalCluster, bearer: str, path: Path) -> Path:
    """A kubeconfig that authenticates with `bearer` and nothing else (no client certificate)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": cluster.server_url,
                                                   "certificate-authority": str(cluster.pki.ca.cert)}}],
        "users": [{"name": "sa", "user": {"token": bearer}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": "sa"}}],
        "current-context": "sa",
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


def rules(cluster: launcher.LocalCluster, bearer: str, namespace: str) -> dict[str, Any]:
    """What `kubectl auth can-i --list -n NAMESPACE` prints, as a mapping:
    {"resources": {"resource.group[/subresource] [name]": [verbs]}, "non-resource URLs": {url: [verbs]}}."""
    context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    }
    with httpx.Client(base_url=cluster.server_url, verify=context, headers={"Authorization": f"Bearer {bearer}"}) as c:
        response = c.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json=review)
    response.raise_for_status()
    status = response.json()["status"]
    assert not status.get("incomplete"), status.get("evaluationError")
    resources: dict[str, set[str]] = {}
    for rule in status.get("resourceRules") or []:
        for group in rule.get("apiGroups") or [""]:
            for resource in rule["resources"]:
                # kubectl's spelling: deployments.apps, cronjobs.batch/finalizers, leases... [name]
                plural, _, subresource = resource.partition("/")
                base = f"{plural}.{group}" if group else plural
                base += f"/{subresource}" if subresource else ""
                for name in rule.get("resourceNames") or [None]:
                    resources.setdefault(f"{base} [{name}]" if name else base, set()).update(rule["verbs"])
    urls: dict[str, set[str]] = {}
    for rule in status.get("nonResourceRules") or []:
        for url in rule["nonResourceURLs"]:
            urls.setdefault(url, set()).update(rule["verbs"])
    return {
        "resources": {key: sorted(verbs) for key, verbs in sorted(resources.items())},
        "non-resource URLs": {key: sorted(verbs) for key, verbs in sorted(urls.items())},
    }


def reconciler_as(settings: Settings, kubeconfig_path: Path, lease_namespace: str) -> ReconcilerThread:
    """One reconciler replica outside the cluster, talking to the apiserver only through a
    kubeconfig that holds a ServiceAccount's token, and electing its leader in `lease_namespace`,
    as the chart's reconciler Deployment does."""
    factory = db.session_factory(db.create_engine(settings.database_url))
    # The same constructor `procplane reconciler` uses for a kubeconfig.
    api_client = reconciler_kube.new_api_client(str(kubeconfig_path))
    reconciler = Reconciler(
        settings, api_client, factory, workers=2, lease_namespace=lease_namespace, lease_seconds=6.0
    )
    return ReconcilerThread(reconciler)
