"""What the observer knows of running processes (pure data): instances and their usage, alert
rules and verdicts, the processes it watches and the webhook deliveries it owes. The store reads
and writes these; `reconciler.observe` computes them from pods."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

RULES = ("down", "restart", "cpu", "memory", "heartbeat")
# The limits of what a client sets: thresholds are percentages, a heartbeat interval is at most 30 days.
THRESHOLD_MIN = 0.01
THRESHOLD_MAX = 100.0
WEBHOOK_URL_MAX = 2048
HEARTBEAT_MIN_SECONDS = 1
HEARTBEAT_MAX_SECONDS = 30 * 24 * 3600


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    alert_on_down: bool = True
    alert_on_restart: bool = False
    alert_on_cpu: bool = False
    alert_on_memory: bool = False
    cpu_threshold_pct: float = 50.0
    memory_threshold_pct: float = 25.0


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of a process at one moment."""

    state: str  # the computed status: paused, pending, down, up
    ready_count: int
    restarts_in_window: int
    cpu_pct: float | None
    memory_pct: float | None
    heartbeat: str | None  # ALIVE, DEAD, RESURRECTED; None without a heartbeat


class Verdict(msgspec.Struct, frozen=True):
    firing: bool
    message: str


class Transition(msgspec.Struct, frozen=True):
    rule: str
    firing: bool
    message: str

    @property
    def event(self) -> str:
        return "alert.fired" if self.firing else "alert.resolved"


class Usage(msgspec.Struct, frozen=True):
    """One pod's usage summed over its containers."""

    cpu_millicores: float
    memory_bytes: int


class Limits(msgspec.Struct, frozen=True):
    """What one instance may use: the process's machine size."""

    cpu_millicores: int
    memory_bytes: int


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    uid: str
    namespace: str
    node: str | None
    phase: str
    state: str  # running, waiting, terminated, pending, terminating
    state_reason: str | None
    ready: bool
    restarts: int
    image: str | None
    started_at: datetime | None
    last_termination_reason: str | None
    last_exit_code: int | None
    last_terminated_at: datetime | None
    created_at: datetime | None
    cpu_millicores: float | None = None
    memory_bytes: int | None = None
    cpu_pct: float | None = None
    memory_pct: float | None = None


class Restart(msgspec.Struct, frozen=True):
    instance: str
    count: int
    reason: str | None
    exit_code: int | None


class Aggregate(msgspec.Struct, kw_only=True):
    """One sample's worth of numbers over a process's instances."""

    count: int
    ready_count: int
    restarts: int
    cpu_millicores: float | None
    memory_bytes: int | None
    cpu_pct: float | None
    memory_pct: float | None
    oldest_start_unix: int | None


class Watched(msgspec.Struct, kw_only=True):
    """One process as the observer needs it."""

    id: str
    app_id: str
    app_name: str
    key: str
    type: str
    namespace: str
    limits: Limits
    state: str
    rules: Rules
    webhook_url: str | None
    heartbeat: str | None
    heartbeat_stored: str | None
    heartbeat_deadline: datetime | None
    firing: dict[str, bool]
    previous: dict[str, tuple[str, int]]  # instance name -> (uid, restart count)
    snapshot: dict[str, Instance]
    last_sample_at: datetime | None
    restarts_in_window: int


class Delivery(msgspec.Struct, frozen=True):
    id: str
    url: str
    secret: str
    event: str
    payload: dict[str, Any]
    attempts: int
