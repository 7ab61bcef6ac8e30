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
from controlplane.api.wire import from_row
from controlplane.domain import observed
from controlplane.domain.naming import timestamp
from controlplane.store import models


def instance(row: models.ProcessInstance) -> InstanceOut:
    return from_row(InstanceOut, row)


def sample(row: models.ProcessSample) -> SampleOut:
    assert row.id is not None, "samples are read back from the database"
    return from_row(SampleOut, row)


def alert_rules(
    process_id: str,
    row: models.ProcessAlertRules | None,
    states: list[models.ProcessAlertState],
    *,
    show_secret: bool,
) -> AlertRulesOut:
    rules = row or models.ProcessAlertRules(process_id=process_id, webhook_secret="")
    return from_row(
        AlertRulesOut,
        rules,
        webhook_secret=rules.webhook_secret if show_secret and row is not None else None,
        alerted_state=[s.rule for s in states if s.firing],
        alerts=[from_row(AlertStateOut, s) for s in states],
        updated_at=timestamp(row.updated_at) if row is not None else None,
    )


def heartbeat(row: models.ProcessHeartbeat, now: datetime, token: str | None = None) -> HeartbeatOut:
    status = observed.heartbeat_status(row.status, row.next_heartbeat_at, now)
    return from_row(HeartbeatOut, row, status=status, token=token)


def webhook_delivery(row: models.WebhookDelivery) -> WebhookDeliveryOut:
    # A delivery that is done has no next attempt, whatever its row still holds.
    next_attempt = row.next_attempt_at if row.status == "pending" else None
    return from_row(WebhookDeliveryOut, row, next_attempt_at=next_attempt)
