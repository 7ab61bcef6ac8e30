"""Wire types. Requests decode strictly (unknown fields refused, no coercion); ranges and
cross-field rules live in `validation.py` so every bad field is reported at once."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from controlplane.settings import ResourceCategory

ProcessType = Literal["web", "worker", "cron", "job"]
IngressProtocol = Literal["http", "grpc"]
JobStartPolicy = Literal["beforeDeployment", "afterSuccessDeployment", "afterFailedDeployment"]
Role = Literal["admin", "deployer", "viewer"]


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class CamelRequest(Request, rename="camel"):
    pass


# Probes mirror the Kubernetes Probe object (camelCase), so they are stored and applied as given.
class HttpHeader(CamelRequest):
    name: str
    value: str


class HttpGetAction(CamelRequest):
    port: int | str
    path: str | UnsetType = UNSET
    host: str | UnsetType = UNSET
    scheme: Literal["HTTP", "HTTPS"] | UnsetType = UNSET
    http_headers: list[HttpHeader] | UnsetType = UNSET


class ExecAction(CamelRequest):
    command: list[str]


class TcpSocketAction(CamelRequest):
    port: int | str
    host: str | UnsetType = UNSET


class GrpcAction(CamelRequest):
    port: int
    service: str | UnsetType = UNSET


class Probe(CamelRequest):
    exec: ExecAction | UnsetType = UNSET
    http_get: HttpGetAction | UnsetType = UNSET
    tcp_socket: TcpSocketAction | UnsetType = UNSET
    grpc: GrpcAction | UnsetType = UNSET
    initial_delay_seconds: int | UnsetType = UNSET
    period_seconds: int | UnsetType = UNSET
    timeout_seconds: int | UnsetType = UNSET
    success_threshold: int | UnsetType = UNSET
    failure_threshold: int | UnsetType = UNSET
    termination_grace_period_seconds: int | UnsetType = UNSET


class ManualScalingConfig(CamelRequest):
    instance_count: int


class HorizontalScalingConfig(CamelRequest):
    min_instance_count: int
    max_instance_count: int
    target_cpu_percent: int | UnsetType = UNSET
    target_memory_percent: int | UnsetType = UNSET
    scale_up_interval_seconds: int | UnsetType = UNSET
    scale_down_interval_seconds: int | UnsetType = UNSET
    scale_up_increment: int | UnsetType = UNSET
    scale_down_increment: int | UnsetType = UNSET


class ManualScaling(Request, tag="manual", tag_field="type"):
    config: ManualScalingConfig


class HorizontalScaling(Request, tag="horizontal", tag_field="type"):
    config: HorizontalScalingConfig


ScalingStrategy = ManualScaling | HorizontalScaling


class ProcessFields(Request):
    display_name: str | UnsetType = UNSET
    entrypoint: str | UnsetType | None = UNSET
    port: int | UnsetType = UNSET
    is_ingress_enabled: bool | UnsetType = UNSET
    # "" is decoded so that a blank can mean "no value" where the type does not take the field.
    ingress_protocol: IngressProtocol | Literal[""] | UnsetType | None = UNSET
    scaling_strategy: ScalingStrategy | UnsetType = UNSET
    resource_type_id: str | UnsetType = UNSET
    schedule: str | UnsetType | None = UNSET
    time_zone: str | UnsetType | None = UNSET
    job_start_policy: JobStartPolicy | Literal[""] | UnsetType | None = UNSET
    liveness_probe: Probe | UnsetType | None = UNSET
    readiness_probe: Probe | UnsetType | None = UNSET
    job_timeout_seconds: int | UnsetType | None = UNSET
    job_retries: int | UnsetType | None = UNSET
    job_ttl_seconds: int | UnsetType | None = UNSET
    # The names Sevalla's CLI sends, read as the fields they stand for (see `PROCESS_ALIASES`):
    # a display name, an entrypoint, a resource type's id or name, a manual instance count.
    name: str | UnsetType = UNSET
    command: str | UnsetType = UNSET
    resource_type: str | UnsetType = UNSET
    instances: int | UnsetType = UNSET


PROCESS_ALIASES = {
    "name": "display_name",
    "command": "entrypoint",
    "resource_type": "resource_type_id",
    "instances": "scaling_strategy",
}


class ProcessCreate(ProcessFields, kw_only=True):
    type: ProcessType
    # Derived when absent (see `validation.derive_key`), as Sevalla's clients never send one.
    key: str | UnsetType = UNSET


class ProcessUpdate(ProcessFields, kw_only=True):
    # Accepted only so that sending the current value back is harmless; a change is refused.
    key: str | UnsetType = UNSET
    type: ProcessType | UnsetType = UNSET


class ApplicationCreate(Request, kw_only=True):
    name: str
    display_name: str | UnsetType = UNSET
    image: str | UnsetType | None = UNSET


class ApplicationUpdate(Request, kw_only=True):
    name: str | UnsetType = UNSET
    display_name: str | UnsetType = UNSET
    image: str | UnsetType | None = UNSET


class ConfigVarsUpdate(Request):
    """Set a key to a string, or unset it with null."""

    vars: dict[str, str | None]


class ApiKeyCreate(Request, kw_only=True):
    name: str
    role: Role


# ---- responses ----


class Response(msgspec.Struct):
    pass


class ApplicationOut(Response):
    id: str
    name: str
    display_name: str
    namespace: str
    image: str | None
    created_at: str
    updated_at: str


class ProcessOut(Response):
    id: str
    app_id: str
    key: str
    type: str
    display_name: str
    entrypoint: str
    port: int | None
    is_ingress_enabled: bool
    ingress_protocol: str | None
    scaling_strategy: dict[str, Any]
    resource_type_id: str
    resource_type_name: str
    cpu_limit: int
    memory_limit: int
    schedule: str | None
    time_zone: str | None
    job_start_policy: str | None
    liveness_probe: dict[str, Any] | None
    readiness_probe: dict[str, Any] | None
    job_timeout_seconds: int | None
    job_retries: int | None
    job_ttl_seconds: int | None
    internal_hostname: str
    generation: int
    created_at: str
    updated_at: str
    # What the reconciler last observed in the cluster.
    status: str
    desired_instances: int
    ready_instances: int
    observed_generation: int | None
    conditions: list[dict[str, Any]]
    # What the observer last recorded (seed 002): firing alert rules, the last sample, heartbeat.
    alerted_state: list[str] = msgspec.field(default_factory=list)
    last_count: int | None = None
    last_cpu_pct: float | None = None
    last_memory_pct: float | None = None
    last_sample_at: str | None = None
    heartbeat_status: str | None = None


class Page(Response):
    total: int
    offset: int
    limit: int


class ApplicationList(Page):
    data: list[ApplicationOut]


class ProcessList(Page):
    data: list[ProcessOut]


class ResourceTypeOut(Response):
    id: str
    name: str
    category: ResourceCategory
    cpu_limit: int
    memory_limit: int


class ConfigVarKeys(Response):
    """Values are write-only: reading returns which keys are set, never what they hold."""

    keys: list[str]


class ApiKeyOut(Response):
    id: str
    name: str
    role: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    # Only in the response that creates the key: keep it, it is stored as a hash.
    token: str


class ApiKeyList(Page):
    data: list[ApiKeyOut]


class ProcessRunOut(Response):
    id: str
    process_id: str
    requested_by: str
    requested_at: str
    job_name: str | None
    started_at: str | None


class ProcessRunList(Page):
    data: list[ProcessRunOut]


class ProcfileResult(Response):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]


# ---- observing what runs ----


class AlertRulesUpdate(Request):
    """Seed 002's alert flags and thresholds, and where notifications go."""

    alert_on_down: bool | UnsetType = UNSET
    alert_on_restart: bool | UnsetType = UNSET
    alert_on_cpu: bool | UnsetType = UNSET
    alert_on_memory: bool | UnsetType = UNSET
    cpu_threshold_pct: float | UnsetType = UNSET
    memory_threshold_pct: float | UnsetType = UNSET
    webhook_url: str | UnsetType | None = UNSET
    rotate_webhook_secret: bool | UnsetType = UNSET


class HeartbeatUpdate(Request, kw_only=True):
    interval_seconds: int
    rotate_token: bool | UnsetType = UNSET


class AlertStateOut(Response):
    rule: str
    firing: bool
    message: str
    since: str


class AlertRulesOut(Response):
    process_id: str
    alert_on_down: bool
    alert_on_restart: bool
    alert_on_cpu: bool
    alert_on_memory: bool
    cpu_threshold_pct: float
    memory_threshold_pct: float
    webhook_url: str | None
    # Shown to admin and deployer keys only; null for viewers.
    webhook_secret: str | None
    # The rules firing now (seed 002's alerted_state), and every rule's last verdict.
    alerted_state: list[str]
    alerts: list[AlertStateOut]
    updated_at: str | None


class InstanceOut(Response):
    name: str
    process_id: str
    app_id: str
    namespace: str
    node: str | None
    phase: str
    state: str
    state_reason: str | None
    ready: bool
    restarts: int
    image: str | None
    started_at: str | None
    last_termination_reason: str | None
    last_exit_code: int | None
    last_terminated_at: str | None
    cpu_millicores: float | None
    memory_bytes: int | None
    cpu_pct: float | None
    memory_pct: float | None
    created_at: str | None
    observed_at: str


class InstanceList(Page):
    data: list[InstanceOut]


class SampleOut(Response):
    id: int
    process_id: str
    count: int
    ready_count: int
    restarts: int
    cpu_millicores: float | None
    memory_bytes: int | None
    cpu_pct: float | None
    memory_pct: float | None
    oldest_start_unix: int | None
    resolution_seconds: int
    recorded_at: str


class SampleList(Page):
    data: list[SampleOut]
    recent_restarts: int


class MetricPoint(Response):
    """One bucket of a metric series, as Sevalla's metric endpoints answer: a list of these."""

    time: str
    value: float


class HeartbeatOut(Response, omit_defaults=True):
    process_id: str
    interval_seconds: int
    status: str
    last_heartbeat_at: str
    next_heartbeat_at: str
    token_prefix: str
    created_at: str
    # Only in the response that issues it: keep it, it is stored as a hash.
    token: str | None = None


class WebhookDeliveryOut(Response):
    id: str
    process_id: str
    event: str
    rule: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any]
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None


class WebhookDeliveryList(Page):
    data: list[WebhookDeliveryOut]


class ProcessSummary(Response):
    id: str
    app_id: str
    application: str
    key: str
    type: str
    display_name: str
    status: str
    tags: list[str]
    instances: int | None
    ready_instances: int
    last_sample_at: str | None
    heartbeat: str | None
    created_at: str


class CursorPage(Response):
    after: str | None
    size: int


class SearchMeta(Response):
    page: CursorPage


class ProcessSearchResult(Response):
    data: list[ProcessSummary]
    meta: SearchMeta


class NodeInstances(Response):
    node: str
    status: str  # ok: the node is known and its instances are listed
    ready: bool
    instances: list[InstanceOut]


class NodeInstancesResult(Response):
    results: list[NodeInstances]


class DeploymentCreate(Request, kw_only=True):
    image: str | UnsetType = UNSET
    # Roll every pod again with the current image (and config), without a new image.
    is_restart: bool = False


class RollbackCreate(Request, kw_only=True):
    release_id: str


class ReleaseJobOut(Response):
    key: str
    policy: str
    job_name: str
    status: str
    exit_code: int | None
    reason: str | None
    started_at: str | None
    finished_at: str | None


class ReleaseOut(Response):
    id: str
    app_id: str
    number: int
    image: str
    is_restart: bool
    rollback_of: str | None
    status: str
    failure_reason: str | None
    created_by: str
    created_at: str
    pre_jobs_started_at: str | None
    rollout_started_at: str | None
    post_jobs_started_at: str | None
    finished_at: str | None
    jobs: list[ReleaseJobOut]
    # The process specs as they were when the release was created.
    processes: list[dict[str, Any]]


class ReleaseList(Page):
    data: list[ReleaseOut]


class Message(Response):
    """What Sevalla answers for an action with nothing else to show: a sentence."""

    message: str
