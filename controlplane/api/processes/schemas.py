"""Wire types of processes."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from controlplane.api.wire import CamelRequest, Page, Request, Response
from controlplane.domain.states import ProcessType
from controlplane.domain.validation import ProcessDefinition

# The choices of `states.IngressProtocol` and `states.JobStartPolicy` as Literals: a field must also
# take "" (no value, for a type it does not apply to), and msgspec cannot union a str enum with a
# str Literal. tests/unit/test_states.py keeps them equal to the enums.
IngressProtocol = Literal["http", "grpc"]
JobStartPolicy = Literal["beforeDeployment", "afterSuccessDeployment", "afterFailedDeployment"]


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


class ConditionOut(Response):
    """One of the Kubernetes-style conditions of what runs (`Ready`, `Progressing`, `Degraded`)."""

    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None


class ProcessOut(ProcessDefinition, Response):
    """Sevalla's process: the spec's fields, its machine size, and what runs."""

    id: str
    app_id: str
    # Sevalla's clients read a string (`""` when the image's own command runs) and a port for web only.
    entrypoint: str
    port: int | None
    resource_type_name: str
    cpu_limit: int
    memory_limit: int
    internal_hostname: str
    generation: int
    created_at: str
    updated_at: str
    # What the reconciler last observed in the cluster.
    status: str
    desired_instances: int
    ready_instances: int
    observed_generation: int | None
    conditions: list[ConditionOut]
    # What the observer last recorded: firing alert rules, the last sample, heartbeat.
    alerted_state: list[str] = msgspec.field(default_factory=list)
    last_count: int | None = None
    last_cpu_pct: float | None = None
    last_memory_pct: float | None = None
    last_sample_at: str | None = None
    heartbeat_status: str | None = None


class ProcessList(Page):
    data: list[ProcessOut]


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
