"""The pod template every workload of a process shares: container, resources, security, hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controlplane.domain import spec
from reconciler.render import labels


def cpu_quantity(millicores: int) -> str:
    # The apiserver stores quantities in canonical form ("1000m" reads back as "1"); rendering that
    # form keeps a comparison of desired and live objects free of false differences.
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(megabytes: int) -> str:
    # Megabytes are read as MiB, the binary unit a container runtime enforces; canonical form as above.
    value, suffixes = megabytes, ["Mi", "Gi", "Ti", "Pi"]
    while value % 1024 == 0 and len(suffixes) > 1:
        value //= 1024
        suffixes.pop(0)
    return f"{value}{suffixes[0]}"


def resources(process: spec.ProcessSpec) -> dict[str, Any]:
    # Requests equal limits: pods get the Guaranteed QoS class, the machine size a user picked is
    # what they actually get, and HPA utilisation targets read as "percent of my machine size".
    amounts = {"cpu": cpu_quantity(process.cpu_millicores), "memory": memory_quantity(process.memory_mb)}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def port_name(process: spec.ProcessSpec) -> str:
    return "grpc" if process.ingress_protocol == "grpc" else "http"


def container_security_context() -> dict[str, Any]:
    # The container-level half of the Pod Security "restricted" profile. The root filesystem stays
    # writable: Procfile apps routinely write temporary files and the restricted profile does not require it.
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_security_context(options: spec.RenderOptions) -> dict[str, Any]:
    context: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if options.run_as_user is not None:
        context["runAsUser"] = options.run_as_user
        context["runAsGroup"] = options.run_as_user
        context["fsGroup"] = options.run_as_user
    return context


def container(app: spec.ApplicationSpec, process: spec.ProcessSpec, image: str) -> dict[str, Any]:
    result: dict[str, Any] = {"name": process.key, "image": image}
    if process.entrypoint:
        # A Procfile line is a shell command line, so it runs through a shell, as on Heroku.
        result["command"] = ["/bin/sh", "-c", process.entrypoint]
    if process.type == "web":
        result["ports"] = [{"name": port_name(process), "containerPort": process.port, "protocol": "TCP"}]
        # Explicit env wins over envFrom, so a config var cannot break the port the Service targets.
        result["env"] = [{"name": "PORT", "value": str(process.port)}]
    result["envFrom"] = [{"secretRef": {"name": labels.config_secret_name(app)}}]
    result["resources"] = resources(process)
    if process.type == "web":
        if process.liveness_probe is not None:
            result["livenessProbe"] = process.liveness_probe
        if process.readiness_probe is not None:
            result["readinessProbe"] = process.readiness_probe
    result["securityContext"] = container_security_context()
    return result


def pod_spec(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    image: str,
    options: spec.RenderOptions,
    restart_policy: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        # Apps never talk to the Kubernetes API, and service-link env vars would leak the names of
        # every Service in the namespace into the app's environment next to its config vars.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(options),
        "containers": [container(app, process, image)],
    }
    if restart_policy is not None:
        result["restartPolicy"] = restart_policy
    if options.image_pull_secrets:
        result["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    return result


def config_hash(app: spec.ApplicationSpec, spec_of_pod: dict[str, Any]) -> str:
    """sha256 over everything a running pod depends on.

    Config vars reach pods through a Secret, which Kubernetes does not watch for changes; putting
    their hash in the pod template makes a config-var change roll the pods like any spec change.
    """
    payload: dict[str, Any] = {"configVars": app.config_vars, "podSpec": spec_of_pod}
    if app.restart_token:
        # A restart release changes nothing but this token, and so rolls every pod.
        payload["restart"] = app.restart_token
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def pod_template(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    image: str,
    options: spec.RenderOptions,
    *,
    restart_policy: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = pod_spec(app, process, image, options, restart_policy)
    template_labels = labels.process_labels(app, process)
    if extra_labels:
        template_labels.update(extra_labels)
    return {
        "metadata": {
            "labels": template_labels,
            "annotations": {labels.CONFIG_HASH: config_hash(app, body)},
        },
        "spec": body,
    }
