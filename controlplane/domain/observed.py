"""Rules about observed state that the API and the reconciler's observer must agree on (pure)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Literal

import msgspec

from controlplane.domain.states import HeartbeatStatus, ProcessStatus

HEARTBEAT_TOKEN_PREFIX = "pph_"  # noqa: S105 - marks a leaked heartbeat token as one, not a secret


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def heartbeat_status(stored: str, next_heartbeat_at: datetime, now: datetime) -> str:
    """DEAD as soon as the window is missed, even before the observer has recorded the death."""
    return HeartbeatStatus.DEAD if stored == HeartbeatStatus.DEAD or now > aware(next_heartbeat_at) else stored


def status_after_ping(stored: str, next_heartbeat_at: datetime, now: datetime) -> str:
    """A ping keeps a live process ALIVE and brings a dead one back as RESURRECTED."""
    return (
        HeartbeatStatus.RESURRECTED
        if heartbeat_status(stored, next_heartbeat_at, now) == HeartbeatStatus.DEAD
        else HeartbeatStatus.ALIVE
    )


def new_heartbeat_token() -> str:
    return HEARTBEAT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def presented_state(state: str, firing: bool) -> str:
    """The status the API shows: ``alerting`` when the process runs (``up``) but one of its alert
    rules fires ("running but currently alerting"); every other state as computed by
    the reconciler (``paused``, ``pending``, ``down``, ``up``)."""
    return ProcessStatus.ALERTING if state == ProcessStatus.UP and firing else state


# What the reconciler reports of a process, the Kubernetes way (metav1.Condition's vocabulary).
ConditionType = Literal["Ready", "Progressing", "Degraded"]
ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str
    # RFC 3339 UTC with whole seconds and ``Z``, as metav1.Time writes it, so a value read back
    # from the cluster compares equal to the one computed.
    last_transition_time: str
    observed_generation: int | None = None


class ObservedStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A process's status as the reconciler computed it; the store keeps it and the API presents
    it. `observed_generation` is the spec generation the cluster runs, None when unknown."""

    state: ProcessStatus
    desired_instances: int
    ready_instances: int
    observed_generation: int | None
    conditions: list[Condition]
    # Cron only: when the CronJob last started a run.
    last_schedule_time: str | None = None
