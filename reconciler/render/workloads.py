"""Per-process long-running workloads: Deployment, Service, HPA, PDB and Ingress."""

from __future__ import annotations

from typing import Any

from controlplane.domain import spec
from reconciler.render import labels
from reconciler.render import pod as render_pod

# HPAScalingPolicy.periodSeconds and HPAScalingRules.stabilizationWindowSeconds upper bounds, which
# are tighter than the API's 60000-second intervals.
MAX_HPA_PERIOD_SECONDS = 1800
MAX_HPA_STABILIZATION_SECONDS = 3600
# Standard application protocol for HTTP/2 with prior knowledge over cleartext (KEP-3726).
H2C_APP_PROTOCOL = "kubernetes.io/h2c"


def autoscaled(process: spec.ProcessSpec) -> bool:
    """Whether an HPA owns the replica count of this process's Deployment."""
    scaling = process.scaling
    # HPA cannot take a target to zero (or keep it there), so a zero maximum or a suspension
    # turns into a plain replicas: 0 instead.
    horizontal = isinstance(scaling, spec.HorizontalScaling) and scaling.max_instance_count > 0
    return horizontal and not process.suspended


def fixed_replicas(process: spec.ProcessSpec) -> int | None:
    """The Deployment's replicas, or None when the HPA owns that field."""
    if process.suspended:
        return 0
    scaling = process.scaling
    if isinstance(scaling, spec.ManualScaling):
        return scaling.instance_count
    return None if autoscaled(process) else 0


def minimum_instances(process: spec.ProcessSpec) -> int:
    replicas = fixed_replicas(process)
    if replicas is not None:
        return replicas
    assert isinstance(process.scaling, spec.HorizontalScaling)
    return hpa_bounds(process.scaling)[0]


def hpa_bounds(scaling: spec.HorizontalScaling) -> tuple[int, int]:
    # minReplicas 0 needs the alpha HPAScaleToZero gate, so the floor is one instance.
    low = max(1, scaling.min_instance_count)
    return low, max(low, scaling.max_instance_count)


def render_deployment(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    image: str,
    options: spec.RenderOptions,
    process_cr_uid: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    replicas = fixed_replicas(process)
    # Omitted under an HPA: with server-side apply, owning replicas would reset every autoscaling
    # decision on the next reconcile.
    if replicas is not None:
        body["replicas"] = replicas
    body.update(
        {
            "selector": {"matchLabels": labels.selector_labels(process)},
            # Surge before terminating, so a rollout never drops below the wanted instance count.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "revisionHistoryLimit": options.revision_history_limit,
            "progressDeadlineSeconds": options.progress_deadline_seconds,
            "template": render_pod.pod_template(app, process, image, options),
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": labels.object_metadata(app, process, process_cr_uid),
        "spec": body,
    }


def render_service(app: spec.ApplicationSpec, process: spec.ProcessSpec, process_cr_uid: str) -> dict[str, Any]:
    app_protocol = H2C_APP_PROTOCOL if process.ingress_protocol == "grpc" else "http"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": labels.object_metadata(app, process, process_cr_uid),
        "spec": {
            "type": "ClusterIP",
            "selector": labels.selector_labels(process),
            "ports": [
                {
                    "name": render_pod.port_name(process),
                    "port": process.port,
                    "targetPort": process.port,
                    "protocol": "TCP",
                    "appProtocol": app_protocol,
                }
            ],
        },
    }


def _scaling_rules(increment: int, interval: int, stabilization: int) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": stabilization,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": increment, "periodSeconds": min(interval, MAX_HPA_PERIOD_SECONDS)}],
    }


def hpa_behavior(scaling: spec.HorizontalScaling) -> dict[str, Any]:
    """At most ``increment`` pods per ``interval`` in each direction.

    Scale-up reacts at once (no stabilization) so load spikes are met; scale-down waits for the
    interval's worth of lower recommendations so a brief dip does not shed capacity.
    """
    return {
        "scaleUp": _scaling_rules(scaling.scale_up_increment, scaling.scale_up_interval_seconds, 0),
        "scaleDown": _scaling_rules(
            scaling.scale_down_increment,
            scaling.scale_down_interval_seconds,
            min(scaling.scale_down_interval_seconds, MAX_HPA_STABILIZATION_SECONDS),
        ),
    }


def _utilization_metric(resource: str, percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def render_hpa(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    options: spec.RenderOptions,
    process_cr_uid: str,
) -> dict[str, Any]:
    scaling = process.scaling
    if not isinstance(scaling, spec.HorizontalScaling):
        raise ValueError(f"process {process.key!r} does not scale horizontally")
    metrics: list[dict[str, Any]] = []
    if scaling.target_cpu_percent is not None:
        metrics.append(_utilization_metric("cpu", scaling.target_cpu_percent))
    if scaling.target_memory_percent is not None:
        metrics.append(_utilization_metric("memory", scaling.target_memory_percent))
    if not metrics:
        metrics.append(_utilization_metric("cpu", options.default_target_cpu_percent))
    low, high = hpa_bounds(scaling)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": labels.object_metadata(app, process, process_cr_uid),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": labels.process_name(app, process),
            },
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": metrics,
            "behavior": hpa_behavior(scaling),
        },
    }


def render_pdb(app: spec.ApplicationSpec, process: spec.ProcessSpec, process_cr_uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": labels.object_metadata(app, process, process_cr_uid),
        "spec": {
            # maxUnavailable rather than minAvailable keeps working as the HPA moves the count.
            "maxUnavailable": 1,
            "selector": {"matchLabels": labels.selector_labels(process)},
            # Crash-looping pods must not block node drains.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def ingress_host(app: spec.ApplicationSpec, options: spec.RenderOptions) -> str | None:
    # At most one web process per application, so the application name alone names its host.
    return f"{app.name}.{options.ingress_domain}" if options.ingress_domain else None


def render_ingress(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    options: spec.RenderOptions,
    process_cr_uid: str,
) -> dict[str, Any]:
    if options.ingress_class is None:
        raise ValueError("an Ingress needs an ingress class")
    metadata = labels.object_metadata(app, process, process_cr_uid)
    annotations = dict(options.ingress_annotations)
    if process.ingress_protocol == "grpc":
        annotations.update(options.ingress_grpc_annotations)
    if annotations:
        metadata["annotations"] = annotations
    backend = {"service": {"name": labels.process_name(app, process), "port": {"number": process.port}}}
    rule: dict[str, Any] = {}
    host = ingress_host(app, options)
    if host is not None:
        rule["host"] = host
    rule["http"] = {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}
    body: dict[str, Any] = {"ingressClassName": options.ingress_class, "rules": [rule]}
    if host is not None and options.ingress_tls_secret_name is not None:
        body["tls"] = [{"hosts": [host], "secretName": options.ingress_tls_secret_name}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": body}
