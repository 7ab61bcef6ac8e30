"""Wire types of processes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from controlplane.api.wire import CamelRequest, Page, Request, Response, between, limits, text
from controlplane.domain import validation as rules
from controlplane.domain.states import ProcessType
from controlplane.domain.validation import ProcessDefinition

Port = Annotated[int, between(1, rules.PORT_MAX)]
Key = Annotated[str, text(1, rules.KEY_MAX, rules.DNS_LABEL.pattern)]
DisplayName = Annotated[str, text(1, rules.DISPLAY_NAME_MAX)]
Entrypoint = Annotated[str, limits(max_length=rules.ENTRYPOINT_MAX)]
Instances = Annotated[int, between(0, rules.MAX_INSTANCES)]
# A field a process's type does not take may be sent blank ("" or 0), so the document shows no
# lower bound where a blank is accepted.
Schedule = Annotated[str, limits(max_length=rules.SCHEDULE_MAX)]
TimeZone = Annotated[str, limits(max_length=rules.TIME_ZONE_MAX)]


def _probe(name: str) -> msgspec.Meta:
    return between(*rules.PROBE_RANGES[name])


def _horizontal(name: str) -> msgspec.Meta:
    return between(*rules.HORIZONTAL_RANGES[name])


def _job(name: str) -> msgspec.Meta:
    return between(0, rules.JOB_RANGES[name][1])


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
    # A number, or the name of a container port.
    port: int | str
    path: str | UnsetType = UNSET
    host: str | UnsetType = UNSET
    scheme: Literal["HTTP", "HTTPS"] | UnsetType = UNSET
    http_headers: list[HttpHeader] | UnsetType = UNSET


class ExecAction(CamelRequest):
    command: list[str]


class TcpSocketAction(CamelRequest):
    # A number, or the name of a container port.
    port: int | str
    host: str | UnsetType = UNSET


class GrpcAction(CamelRequest):
    port: Port
    service: str | UnsetType = UNSET


class Probe(CamelRequest):
    exec: ExecAction | UnsetType = UNSET
    http_get: HttpGetAction | UnsetType = UNSET
    tcp_socket: TcpSocketAction | UnsetType = UNSET
    grpc: GrpcAction | UnsetType = UNSET
    initial_delay_seconds: Annotated[int, _probe("initialDelaySeconds")] | UnsetType = UNSET
    period_seconds: Annotated[int, _probe("periodSeconds")] | UnsetType = UNSET
    timeout_seconds: Annotated[int, _probe("timeoutSeconds")] | UnsetType = UNSET
    success_threshold: Annotated[int, _probe("successThreshold")] | UnsetType = UNSET
    failure_threshold: Annotated[int, _probe("failureThreshold")] | UnsetType = UNSET
    termination_grace_period_seconds: Annotated[int, _probe("terminationGracePeriodSeconds")] | UnsetType = UNSET


class ManualScalingConfig(CamelRequest):
    # At most 1 for cron and job processes.
    instance_count: Instances


class HorizontalScalingConfig(CamelRequest):
    min_instance_count: Annotated[int, between(1, rules.MAX_INSTANCES)]
    max_instance_count: Annotated[int, between(1, rules.MAX_INSTANCES)]
    target_cpu_percent: Annotated[int, _horizontal("targetCpuPercent")] | UnsetType = UNSET
    target_memory_percent: Annotated[int, _horizontal("targetMemoryPercent")] | UnsetType = UNSET
    scale_up_interval_seconds: Annotated[int, _horizontal("scaleUpIntervalSeconds")] | UnsetType = UNSET
    scale_down_interval_seconds: Annotated[int, _horizontal("scaleDownIntervalSeconds")] | UnsetType = UNSET
    scale_up_increment: Annotated[int, _horizontal("scaleUpIncrement")] | UnsetType = UNSET
    scale_down_increment: Annotated[int, _horizontal("scaleDownIncrement")] | UnsetType = UNSET


class ManualScaling(Request, tag="manual", tag_field="type"):
    config: ManualScalingConfig


class HorizontalScaling(Request, tag="horizontal", tag_field="type"):
    config: HorizontalScalingConfig


ScalingStrategy = ManualScaling | HorizontalScaling


class ProcessFields(Request):
    display_name: DisplayName | UnsetType = UNSET
    entrypoint: Entrypoint | UnsetType | None = UNSET
    # 0 is a blank for the types without a port.
    port: Annotated[int, between(0, rules.PORT_MAX)] | UnsetType = UNSET
    is_ingress_enabled: bool | UnsetType = UNSET
    # "" is decoded so that a blank can mean "no value" where the type does not take the field.
    ingress_protocol: IngressProtocol | Literal[""] | UnsetType | None = UNSET
    scaling_strategy: ScalingStrategy | UnsetType = UNSET
    resource_type_id: str | UnsetType = UNSET
    schedule: Schedule | UnsetType | None = UNSET
    time_zone: TimeZone | UnsetType | None = UNSET
    job_start_policy: JobStartPolicy | Literal[""] | UnsetType | None = UNSET
    liveness_probe: Probe | UnsetType | None = UNSET
    readiness_probe: Probe | UnsetType | None = UNSET
    job_timeout_seconds: Annotated[int, _job("job_timeout_seconds")] | UnsetType | None = UNSET
    job_retries: Annotated[int, _job("job_retries")] | UnsetType | None = UNSET
    job_ttl_seconds: Annotated[int, _job("job_ttl_seconds")] | UnsetType | None = UNSET
    # The names Sevalla's CLI sends, read as the fields they stand for (see `PROCESS_ALIASES`):
    # a display name, an entrypoint, a resource type's id or name, a manual instance count.
    name: DisplayName | UnsetType = UNSET
    command: Entrypoint | UnsetType = UNSET
    resource_type: str | UnsetType = UNSET
    instances: Instances | UnsetType = UNSET


PROCESS_ALIASES = {
    "name": "display_name",
    "command": "entrypoint",
    "resource_type": "resource_type_id",
    "instances": "scaling_strategy",
}


class ProcessCreate(ProcessFields, kw_only=True):
    type: ProcessType
    # Derived when absent (see `validation.derive_key`), as Sevalla's clients never send one.
    key: Key | UnsetType = UNSET


class ProcessUpdate(ProcessFields, kw_only=True):
    # Accepted only so that sending the current value back is harmless; a change is refused.
    key: Key | UnsetType = UNSET
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
