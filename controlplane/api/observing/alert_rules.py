"""Validation of alert rules, webhook URLs and heartbeat intervals (pure): thresholds are
percentages from 0.01 to 100 (that an update names at least one field, the strict reader
checks: `Request.names_a_field`), and a webhook URL must be one the target policy lets
procplane send to (`webhook_targets`; a host given as an address is judged here, a name once
resolved, by the service)."""

from __future__ import annotations

from msgspec import UNSET

from controlplane.api.observing.schemas import AlertRulesUpdate, HeartbeatUpdate
from controlplane.domain import webhook_targets
from controlplane.domain.errors import FieldError
from controlplane.domain.observing import (
    HEARTBEAT_MAX_SECONDS,
    HEARTBEAT_MIN_SECONDS,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    WEBHOOK_URL_MAX,
)


def webhook_url_errors(url: str, policy: webhook_targets.Policy) -> list[FieldError]:
    if len(url) > WEBHOOK_URL_MAX:
        return [FieldError("webhook_url", "too_long", f"must be at most {WEBHOOK_URL_MAX} characters")]
    try:
        target = webhook_targets.parse(url)
        policy.check(target, target.addresses)
    except webhook_targets.TargetRefused as exc:
        return [FieldError("webhook_url", exc.code, exc.message)]
    return []


def alert_rules_errors(data: AlertRulesUpdate, policy: webhook_targets.Policy) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("cpu_threshold_pct", "memory_threshold_pct"):
        value = getattr(data, name)
        if value is not UNSET and not THRESHOLD_MIN <= value <= THRESHOLD_MAX:
            errors.append(FieldError(name, "out_of_range", f"must be between {THRESHOLD_MIN} and {THRESHOLD_MAX:g}"))
    if isinstance(data.webhook_url, str):
        errors += webhook_url_errors(data.webhook_url, policy)
    return errors


def heartbeat_errors(data: HeartbeatUpdate) -> list[FieldError]:
    if not HEARTBEAT_MIN_SECONDS <= data.interval_seconds <= HEARTBEAT_MAX_SECONDS:
        return [
            FieldError(
                "interval_seconds",
                "out_of_range",
                f"must be between {HEARTBEAT_MIN_SECONDS} and {HEARTBEAT_MAX_SECONDS}",
            )
        ]
    return []
