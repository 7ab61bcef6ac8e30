"""Stored observing to their wire form."""

from __future__ import annotations

from datetime import datetime

from controlplane.api.observing.schemas import (
    AlertRulesOut,
    AlertStateOut,
    HeartbeatOut,
    InstanceOut,
    SampleOut,
    WebhookDeliveryOut,
)
from controlplane.domain import observed
from controlplane.domain.naming import optional_timestamp, timestamp
from controlplane.store import models


def instance(row: models.ProcessInstance) -> InstanceOut:
    return InstanceOut(
        name=row.name,
        process_id=row.process_id,
        app_id=row.app_id,
        namespace=row.namespace,
        node=row.node,
        phase=row.phase,
        state=row.state,
        state_reason=row.state_reason,
        ready=row.ready,
        restarts=row.restarts,
        image=row.image,
        started_at=optional_timestamp(row.started_at),
        last_termination_reason=row.last_termination_reason,
        last_exit_code=row.last_exit_code,
        last_terminated_at=optional_timestamp(row.last_terminated_at),
        cpu_millicores=row.cpu_millicores,
        memory_bytes=row.memory_bytes,
        cpu_pct=row.cpu_pct,
        memory_pct=row.memory_pct,
        created_at=optional_timestamp(row.created_at),
        observed_at=timestamp(row.observed_at),
    )


def sample(row: models.ProcessSample) -> SampleOut:
    assert row.id is not None, "samples are read back from the database"
    return SampleOut(
        id=row.id,
        process_id=row.process_id,
        count=row.count,
        ready_count=row.ready_count,
        restarts=row.restarts,
        cpu_millicores=row.cpu_millicores,
        memory_bytes=row.memory_bytes,
        cpu_pct=row.cpu_pct,
        memory_pct=row.memory_pct,
        oldest_start_unix=row.oldest_start_unix,
        resolution_seconds=row.resolution_seconds,
        recorded_at=timestamp(row.recorded_at),
    )


def alert_rules(
    process_id: str,
    row: models.ProcessAlertRules | None,
    states: list[models.ProcessAlertState],
    *,
    show_secret: bool,
) -> AlertRulesOut:
    rules = row or models.ProcessAlertRules(process_id=process_id, webhook_secret="")
    return AlertRulesOut(
        process_id=process_id,
        alert_on_down=rules.alert_on_down,
        alert_on_restart=rules.alert_on_restart,
        alert_on_cpu=rules.alert_on_cpu,
        alert_on_memory=rules.alert_on_memory,
        cpu_threshold_pct=rules.cpu_threshold_pct,
        memory_threshold_pct=rules.memory_threshold_pct,
        webhook_url=rules.webhook_url,
        webhook_secret=rules.webhook_secret if show_secret and row is not None else None,
        alerted_state=[s.rule for s in states if s.firing],
        alerts=[
            AlertStateOut(rule=s.rule, firing=s.firing, message=s.message, since=timestamp(s.since)) for s in states
        ],
        updated_at=timestamp(row.updated_at) if row is not None else None,
    )


def heartbeat(row: models.ProcessHeartbeat, now: datetime, token: str | None = None) -> HeartbeatOut:
    return HeartbeatOut(
        process_id=row.process_id,
        interval_seconds=row.interval_seconds,
        status=observed.heartbeat_status(row.status, row.next_heartbeat_at, now),
        last_heartbeat_at=timestamp(row.last_heartbeat_at),
        next_heartbeat_at=timestamp(row.next_heartbeat_at),
        token_prefix=row.token_prefix,
        created_at=timestamp(row.created_at),
        token=token,
    )


def webhook_delivery(row: models.WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=row.id,
        process_id=row.process_id,
        event=row.event,
        rule=row.rule,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        payload=row.payload,
        created_at=timestamp(row.created_at),
        next_attempt_at=timestamp(row.next_attempt_at) if row.status == "pending" else None,
        delivered_at=optional_timestamp(row.delivered_at),
    )
