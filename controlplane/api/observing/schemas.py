"""Wire types of observing."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, UnsetType

from controlplane.api.wire import Page, Request, Response, between, limits
from controlplane.domain import observing
from controlplane.domain import observing as rules

Threshold = Annotated[float, limits(minimum=rules.THRESHOLD_MIN, maximum=rules.THRESHOLD_MAX)]


class AlertRulesUpdate(Request):
    """The alert flags and thresholds, and where notifications go; at least one of them."""

    names_a_field = True

    alert_on_down: bool | UnsetType = UNSET
    alert_on_restart: bool | UnsetType = UNSET
    alert_on_cpu: bool | UnsetType = UNSET
    alert_on_memory: bool | UnsetType = UNSET
    cpu_threshold_pct: Threshold | UnsetType = UNSET
    memory_threshold_pct: Threshold | UnsetType = UNSET
    webhook_url: Annotated[str, limits(max_length=rules.WEBHOOK_URL_MAX)] | UnsetType | None = UNSET
    rotate_webhook_secret: bool | UnsetType = UNSET


class HeartbeatUpdate(Request, kw_only=True):
    interval_seconds: Annotated[int, between(rules.HEARTBEAT_MIN_SECONDS, rules.HEARTBEAT_MAX_SECONDS)]
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
    # The rules firing now (`alerted_state`), and every rule's last verdict.
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


class SampleOut(observing.Aggregate, Response):
    """One stored sample: the observer's numbers over the process's instances, and when."""

    id: int
    process_id: str
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
