"""Application-level manifests: Namespace, config Secret, and the procplane custom resources."""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from controlplane.domain import spec
from controlplane.domain.naming import camel_case
from reconciler.render import labels

POD_SECURITY_LEVEL = "restricted"


def render_namespace(app: spec.ApplicationSpec, application_cr_uid: str) -> dict[str, Any]:
    namespace_labels = labels.application_labels(app)
    # warn and audit as well as enforce, so a rejected pod also explains itself to kubectl users.
    for mode in ("enforce", "warn", "audit"):
        namespace_labels[f"pod-security.kubernetes.io/{mode}"] = POD_SECURITY_LEVEL
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": app.namespace,
            "labels": namespace_labels,
            # Deleting the Application CR garbage-collects the namespace and everything in it.
            "ownerReferences": [
                labels.owner_reference("Application", labels.application_cr_name(app), application_cr_uid)
            ],
        },
    }


def render_config_secret(app: spec.ApplicationSpec) -> dict[str, Any]:
    # ``data`` rather than ``stringData``: stringData is write-only and merged into data by the
    # apiserver, so with server-side apply a removed config var would linger in the Secret.
    data = {name: base64.b64encode(value.encode()).decode("ascii") for name, value in sorted(app.config_vars.items())}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": labels.config_secret_name(app),
            "namespace": app.namespace,
            "labels": labels.application_labels(app),
        },
        "data": data,
    }


def render_application_cr(app: spec.ApplicationSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"id": app.id, "name": app.name, "namespace": app.namespace}
    if app.image is not None:
        body["image"] = app.image
    return {
        "apiVersion": labels.API_VERSION,
        "kind": "Application",
        "metadata": {"name": labels.application_cr_name(app), "labels": labels.application_labels(app)},
        "spec": body,
    }


def scaling_strategy(scaling: spec.Scaling) -> dict[str, Any]:
    """The API's ``scaling_strategy`` shape: ``{"type", "config": {camelCase fields}}``; a target
    that is not set is left out."""
    config = msgspec.structs.asdict(scaling)
    kind = "manual" if isinstance(scaling, spec.ManualScaling) else "horizontal"
    return {"type": kind, "config": {camel_case(name): value for name, value in config.items() if value is not None}}


def render_process_cr(app: spec.ApplicationSpec, process: spec.ProcessSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": process.id,
        "appId": process.app_id,
        "key": process.key,
        # Manifests are plain data (they are written as YAML too): states as their values.
        "type": str(process.type),
        "displayName": process.display_name,
    }
    if process.entrypoint is not None:
        body["entrypoint"] = process.entrypoint
    body["port"] = process.port
    if process.type == "web":
        body["isIngressEnabled"] = process.is_ingress_enabled
        body["ingressProtocol"] = str(process.ingress_protocol)
    body.update(
        {
            "scalingStrategy": scaling_strategy(process.scaling),
            "resourceTypeName": process.resource_type_name,
            "cpuLimit": process.cpu_millicores,
            "memoryLimit": process.memory_mb,
        }
    )
    # None means "not set": leaving the field out keeps it out of the applied configuration.
    optional = {
        "schedule": process.schedule,
        "timeZone": process.time_zone,
        "jobStartPolicy": str(process.job_start_policy) if process.job_start_policy else None,
        "livenessProbe": process.liveness_probe,
        "readinessProbe": process.readiness_probe,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    body["suspended"] = process.suspended
    if process.type in ("cron", "job"):
        if process.job_timeout_seconds is not None:
            body["jobTimeoutSeconds"] = process.job_timeout_seconds
        body["jobBackoffLimit"] = process.job_backoff_limit
        body["jobTtlSeconds"] = process.job_ttl_seconds
    return {
        "apiVersion": labels.API_VERSION,
        "kind": "Process",
        "metadata": {
            "name": labels.process_name(app, process),
            "namespace": app.namespace,
            "labels": labels.process_labels(app, process),
            # The API's spec generation, so status can say which stored spec it reflects.
            "annotations": {labels.SPEC_GENERATION: str(process.generation)},
        },
        "spec": body,
    }
