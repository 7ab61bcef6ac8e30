"""Object names, labels, selectors and owner references shared by every rendered manifest."""

from __future__ import annotations

import hashlib
from typing import Any

from controlplane.domain import naming, spec

GROUP = "procplane.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MANAGED_BY = "procplane"

APPLICATION_ID = f"{GROUP}/application-id"
PROCESS_ID = f"{GROUP}/process-id"
RELEASE = f"{GROUP}/release"
CONFIG_HASH = f"{GROUP}/config-hash"
SPEC_GENERATION = f"{GROUP}/generation"
# Which procplane install owns an object (Settings.install_id): an install watches, caches and
# deletes only objects carrying its own.
INSTALL_ID = f"{GROUP}/install-id"

# Kubernetes uses 63 for DNS labels and label values; Job names must fit it too because the Job
# controller copies the name into a pod label.
MAX_NAME = 63
# The CronJob controller appends an 11-character suffix to name the Jobs it creates.
MAX_CRONJOB_NAME = 52
_HASH_CHARS = 6


def process_name(app: spec.ApplicationSpec, process: spec.ProcessSpec) -> str:
    return naming.object_name(app.name, process.key)


def config_secret_name(app: spec.ApplicationSpec) -> str:
    return f"{app.name}-config"


def application_cr_name(app: spec.ApplicationSpec) -> str:
    # The Application CR is cluster-scoped, and the namespace name is the one identifier of the
    # application that is already unique cluster-wide.
    return app.namespace


def internal_hostname(app: spec.ApplicationSpec, process: spec.ProcessSpec, options: spec.RenderOptions) -> str:
    return naming.internal_hostname(app.name, app.namespace, process.key, options.cluster_domain)


def fit_name(base: str, suffix: str = "", limit: int = MAX_NAME) -> str:
    """``base-suffix``, shortened deterministically to ``limit`` characters.

    When it is too long, the base is cut and a short hash of the full base is appended, so two
    long bases that share a prefix still produce different names, and the suffix survives whole.
    """
    tail = f"-{suffix}" if suffix else ""
    if len(base) + len(tail) <= limit:
        return base + tail
    digest = hashlib.sha256(base.encode()).hexdigest()[:_HASH_CHARS]
    keep = limit - len(tail) - _HASH_CHARS - 1
    if keep < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room for a name within {limit} characters")
    return f"{base[:keep].rstrip('-')}-{digest}{tail}"


def application_labels(app: spec.ApplicationSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": app.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        APPLICATION_ID: app.id,
    }


def process_labels(app: spec.ApplicationSpec, process: spec.ProcessSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": process.key,
        "app.kubernetes.io/instance": process_name(app, process),
        "app.kubernetes.io/component": str(process.type),
        "app.kubernetes.io/part-of": app.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        APPLICATION_ID: app.id,
        PROCESS_ID: process.id,
    }


def selector_labels(process: spec.ProcessSpec) -> dict[str, str]:
    # Deployment selectors are immutable, so they hold only the process id, which never changes
    # (the app name or key could, in principle, be renamed).
    return {PROCESS_ID: process.id}


def owner_reference(kind: str, name: str, uid: str, api_version: str = API_VERSION) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def process_owner(app: spec.ApplicationSpec, process: spec.ProcessSpec, uid: str) -> dict[str, Any]:
    return owner_reference("Process", process_name(app, process), uid)


def object_metadata(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    process_cr_uid: str,
    name: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name or process_name(app, process),
        "namespace": app.namespace,
        "labels": process_labels(app, process),
        "ownerReferences": [process_owner(app, process, process_cr_uid)],
    }


def install_selector(install_id: str, *requirements: str) -> str:
    """A label selector of `requirements` narrowed to the objects of one install."""
    return ",".join([*requirements, f"{INSTALL_ID}={install_id}"])


# Where a manifest describes objects it makes: a Deployment's or Job's pod template, a CronJob's Job
# template (which holds a pod template in turn). Those pods and Jobs belong to the install too.
_TEMPLATES = ("template", "jobTemplate")


def owned_by_install(manifest: dict[str, Any], install_id: str) -> dict[str, Any]:
    """`manifest` with the install id label on it and on the templates of the objects it makes; a
    copy, the caller's manifest is left as it was."""
    owned = {**manifest, "metadata": _labelled(manifest.get("metadata") or {}, install_id)}
    body = manifest.get("spec")
    if isinstance(body, dict):
        templates = {key: owned_by_install(body[key], install_id) for key in _TEMPLATES if key in body}
        if templates:
            owned["spec"] = {**body, **templates}
    return owned


def _labelled(metadata: dict[str, Any], install_id: str) -> dict[str, Any]:
    return {**metadata, "labels": {**(metadata.get("labels") or {}), INSTALL_ID: install_id}}
