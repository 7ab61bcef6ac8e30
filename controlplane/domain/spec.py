"""Render inputs: what the reconciler knows about an application and its processes.

These Structs are deliberately decoupled from the storage models so that rendering can be
exercised offline (``procplane render``) and in unit tests without a database. Field names
follow the API's snake_case process fields.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from controlplane.domain.states import IngressProtocol, JobStartPolicy, ProcessType

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]
# The install id of a procplane that was given none (local runs, tests): see Settings.install_id.
DEFAULT_INSTALL_ID = "default"


class ManualScaling(msgspec.Struct, frozen=True, kw_only=True, tag="manual", tag_field="type"):
    instance_count: int


# Horizontal scaling's defaults, in the wire's names, for what a client leaves out (the API
# stores and shows what it sent). With neither target, it scales on CPU at this share.
HORIZONTAL_DEFAULTS = {
    "scaleUpIntervalSeconds": 60,
    "scaleDownIntervalSeconds": 300,
    "scaleUpIncrement": 1,
    "scaleDownIncrement": 1,
}
DEFAULT_TARGET_CPU_PERCENT = 80


class HorizontalScaling(msgspec.Struct, frozen=True, kw_only=True, tag="horizontal", tag_field="type"):
    min_instance_count: int
    max_instance_count: int
    target_cpu_percent: int | None = None
    target_memory_percent: int | None = None
    scale_up_interval_seconds: int = HORIZONTAL_DEFAULTS["scaleUpIntervalSeconds"]
    scale_down_interval_seconds: int = HORIZONTAL_DEFAULTS["scaleDownIntervalSeconds"]
    scale_up_increment: int = HORIZONTAL_DEFAULTS["scaleUpIncrement"]
    scale_down_increment: int = HORIZONTAL_DEFAULTS["scaleDownIncrement"]


Scaling = ManualScaling | HorizontalScaling


class ApplicationSpec(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    # The per-application namespace, ``{name}-{6 chars}``; chosen once by the API and stored.
    namespace: str
    # None until the application has an image: set directly, later by its latest successful release.
    image: str | None = None
    config_vars: dict[str, str] = {}
    # Changed by each restart release; part of the pod-template hash.
    restart_token: str | None = None


class ProcessSpec(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    app_id: str
    key: str
    type: ProcessType
    display_name: str
    entrypoint: str | None = None
    port: int = 8080
    is_ingress_enabled: bool = False
    ingress_protocol: IngressProtocol = IngressProtocol.HTTP
    scaling: Scaling = ManualScaling(instance_count=1)
    resource_type_name: str
    cpu_millicores: int
    memory_mb: int
    schedule: str | None = None
    time_zone: str | None = None
    job_start_policy: JobStartPolicy | None = None
    # Already Kubernetes probe objects (camelCase), passed through untouched.
    liveness_probe: dict[str, Any] | None = None
    readiness_probe: dict[str, Any] | None = None
    # Bumped by the API on every spec change; recorded on the Process CR.
    generation: int = 1
    suspended: bool = False
    job_timeout_seconds: int | None = None
    # A failed release job is not retried by default: migrations are rarely safe to re-run blindly.
    job_backoff_limit: int = 0
    # Long enough to read a finished job's status and logs, short enough not to pile up.
    job_ttl_seconds: int = 86400


class RenderOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Operator-level settings (Helm values), identical for every application."""

    cluster_domain: str = "cluster.local"
    # No Ingress is rendered at all unless the operator names an ingress class.
    ingress_class: str | None = None
    # Public hosts are ``{app.name}.{ingress_domain}``; without a domain the rule matches any host.
    ingress_domain: str | None = None
    ingress_tls_secret_name: str | None = None
    ingress_annotations: dict[str, str] = {}
    # Controller-specific hints for gRPC backends (e.g. a backend-protocol annotation).
    ingress_grpc_annotations: dict[str, str] = {}
    cron_concurrency_policy: ConcurrencyPolicy = "Forbid"
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1
    cron_starting_deadline_seconds: int | None = None
    # Off by default: the CronJob history limits already clean up finished runs.
    cron_job_ttl_seconds: int | None = None
    progress_deadline_seconds: int = 600
    # Rollback re-deploys a release, so old ReplicaSets are only kept for inspection.
    revision_history_limit: int = 5
    default_target_cpu_percent: int = DEFAULT_TARGET_CPU_PERCENT
    # Images whose default user is root cannot start under runAsNonRoot; an operator may force a UID.
    run_as_user: int | None = None
    image_pull_secrets: tuple[str, ...] = ()
    # Labelled on every object, so this install owns only what carries it (Settings.install_id).
    install_id: str = DEFAULT_INSTALL_ID
