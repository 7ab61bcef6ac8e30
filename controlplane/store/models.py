"""Database tables. The schema itself is created by the Alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from controlplane.domain import observing, states


def new_id() -> str:
    return str(uuid.uuid4())


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, **kwargs))


def _unique_where(name: str, column: str, where: sa.TextClause) -> sa.Index:
    """A partial unique index, the same on both databases."""
    return sa.Index(name, column, unique=True, sqlite_where=where, postgresql_where=where)


class ResourceType(SQLModel, table=True):
    __tablename__ = "resource_types"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=64, unique=True)
    category: str = Field(max_length=64)
    cpu_limit: int
    memory_limit: int
    active: bool = True


class Team(SQLModel, table=True):
    """Who owns applications and API keys: a key sees its own team's resources only."""

    __tablename__ = "teams"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=63, unique=True)
    created_at: datetime = _timestamp()


def _team_fk(*, nullable: bool) -> Any:
    # No cascade: a team is never deleted out from under its applications and keys.
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("teams.id"), nullable=nullable, index=True),
    )


class Application(SQLModel, table=True):
    __tablename__ = "applications"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    team_id: str = _team_fk(nullable=False)
    name: str = Field(max_length=30, unique=True)
    display_name: str = Field(max_length=255)
    namespace: str = Field(max_length=63, unique=True)
    image: str | None = Field(default=None, max_length=512)
    # Bumped with every config-var change so the reconciler can tell the Secret is stale.
    config_generation: int = 1
    # Set by a successful restart release: a new value rolls every pod without a new image.
    restart_token: str | None = Field(default=None, max_length=36)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ConfigVar(SQLModel, table=True):
    __tablename__ = "config_vars"

    app_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(primary_key=True, max_length=255)
    value: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class Process(SQLModel, table=True):
    __tablename__ = "processes"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "key", name="uq_processes_app_key"),
        # The "one web per application" rule also holds under concurrent requests.
        _unique_where("uq_processes_one_web", "app_id", sa.text("type = 'web'")),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    app_id: str = Field(
        sa_column=sa.Column(
            sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(max_length=64)
    type: str = Field(max_length=16)
    display_name: str = Field(max_length=255)
    entrypoint: str | None = Field(default=None, max_length=1024)
    port: int = 8080
    is_ingress_enabled: bool = False
    ingress_protocol: str | None = Field(default=None, max_length=8)
    scaling_strategy: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    resource_type_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("resource_types.id"), nullable=False)
    )
    schedule: str | None = Field(default=None, max_length=100)
    time_zone: str | None = Field(default=None, max_length=100)
    job_start_policy: str | None = Field(default=None, max_length=32)
    liveness_probe: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    readiness_probe: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    # Job processes only: how each release's Job of this process runs.
    job_timeout_seconds: int | None = None
    job_retries: int | None = None
    job_ttl_seconds: int | None = None
    # Bumped in the same transaction as every spec change; the reconciler reports the one it applied.
    generation: int = 1
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


# An operator key belongs to no team; every other key to exactly one.
OPERATOR_KEY_HAS_NO_TEAM = sa.text(
    f"(role = '{states.Role.OPERATOR.value}' AND team_id IS NULL)"
    f" OR (role <> '{states.Role.OPERATOR.value}' AND team_id IS NOT NULL)"
)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (sa.CheckConstraint(OPERATOR_KEY_HAS_NO_TEAM, name="ck_api_keys_operator_has_no_team"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    team_id: str | None = _team_fk(nullable=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    token_prefix: str = Field(max_length=16)
    # SHA-256 of the whole token: tokens carry 256 random bits, so a slow hash buys nothing.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()
    last_used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True))


class ProcessStatus(SQLModel, table=True):
    """What the reconciler last saw of a process in the cluster. Kept apart from `processes` so
    status writes never touch the spec row, its `updated_at` or its ETag."""

    __tablename__ = "process_statuses"

    process_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True)
    )
    state: str = Field(max_length=16)
    desired_instances: int = 0
    ready_instances: int = 0
    observed_generation: int | None = None
    conditions: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    updated_at: datetime = _timestamp()


class ProcessRun(SQLModel, table=True):
    """A request to run a cron process now. The reconciler turns each into exactly one Job, named
    after the run, so a retry or a restart never starts it twice."""

    __tablename__ = "process_runs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    process_id: str = Field(
        sa_column=sa.Column(
            sa.String(36), sa.ForeignKey("processes.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    requested_by: str = Field(max_length=100)
    requested_at: datetime = _timestamp()
    job_name: str | None = Field(default=None, max_length=63)
    started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True))


# ---- observing what runs (written by the reconciler's observer, read by the API) ----


def _optional_timestamp() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True))


def _process_fk(primary_key: bool = False) -> Any:
    return Field(
        sa_column=sa.Column(
            sa.String(36),
            sa.ForeignKey("processes.id", ondelete="CASCADE"),
            primary_key=primary_key,
            nullable=False,
            index=not primary_key,
        )
    )


DEFAULT_RULES = observing.Rules()


class ProcessAlertRules(SQLModel, table=True):
    """A process's alert rules and where their notifications go. A process without a row has the
    defaults (`alert_on_down` only, no webhook)."""

    __tablename__ = "process_alert_rules"

    process_id: str = _process_fk(primary_key=True)
    alert_on_down: bool = DEFAULT_RULES.alert_on_down
    alert_on_restart: bool = DEFAULT_RULES.alert_on_restart
    alert_on_cpu: bool = DEFAULT_RULES.alert_on_cpu
    alert_on_memory: bool = DEFAULT_RULES.alert_on_memory
    cpu_threshold_pct: float = DEFAULT_RULES.cpu_threshold_pct
    memory_threshold_pct: float = DEFAULT_RULES.memory_threshold_pct
    webhook_url: str | None = Field(default=None, max_length=2048)
    # Signs every delivery (HMAC-SHA256); shown to writers, never to viewers.
    webhook_secret: str = Field(max_length=64)
    updated_at: datetime = _timestamp()


class ProcessHeartbeat(SQLModel, table=True):
    """A dead-man's switch: the process pings within `interval_seconds` or it is DEAD."""

    __tablename__ = "process_heartbeats"

    process_id: str = _process_fk(primary_key=True)
    interval_seconds: int
    token_prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=16)  # ALIVE, DEAD, RESURRECTED
    last_heartbeat_at: datetime = _timestamp()
    next_heartbeat_at: datetime = _timestamp()
    created_at: datetime = _timestamp()


class ProcessInstance(SQLModel, table=True):
    """One pod of a process as last observed: the current set is replaced on every observation."""

    __tablename__ = "process_instances"
    __table_args__ = (sa.Index("ix_process_instances_node", "node"),)

    process_id: str = _process_fk(primary_key=True)
    name: str = Field(primary_key=True, max_length=253)
    app_id: str = Field(max_length=36)
    namespace: str = Field(max_length=63)
    uid: str = Field(max_length=64)
    node: str | None = Field(default=None, max_length=253)
    phase: str = Field(max_length=16)
    state: str = Field(max_length=16)
    state_reason: str | None = Field(default=None, max_length=128)
    ready: bool = False
    restarts: int = 0
    image: str | None = Field(default=None, max_length=512)
    started_at: datetime | None = _optional_timestamp()
    last_termination_reason: str | None = Field(default=None, max_length=128)
    last_exit_code: int | None = None
    last_terminated_at: datetime | None = _optional_timestamp()
    cpu_millicores: float | None = None
    memory_bytes: int | None = None
    cpu_pct: float | None = None
    memory_pct: float | None = None
    created_at: datetime | None = _optional_timestamp()
    observed_at: datetime = _timestamp()


class ProcessSample(SQLModel, table=True):
    """Instance count and usage at one moment. Raw samples are merged into coarser ones as they
    age (`resolution_seconds` says how many seconds one row stands for) and dropped at last."""

    __tablename__ = "process_samples"
    __table_args__ = (sa.Index("ix_process_samples_process_recorded", "process_id", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("processes.id", ondelete="CASCADE"), nullable=False)
    )
    recorded_at: datetime = _timestamp()
    resolution_seconds: int
    count: int
    ready_count: int
    restarts: int
    cpu_millicores: float | None = None
    memory_bytes: int | None = None
    cpu_pct: float | None = None
    memory_pct: float | None = None
    oldest_start_unix: int | None = None


class ProcessRestart(SQLModel, table=True):
    """Restarts seen between two observations of one instance (its restart count went up)."""

    __tablename__ = "process_restarts"

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = _process_fk()
    instance: str = Field(max_length=253)
    count: int
    reason: str | None = Field(default=None, max_length=128)
    exit_code: int | None = None
    observed_at: datetime = _timestamp()


class ProcessAlertState(SQLModel, table=True):
    """Whether one rule of one process fires. A notification goes out only when this flips, so
    an alert is sent once per transition however long the state holds."""

    __tablename__ = "process_alert_states"

    process_id: str = _process_fk(primary_key=True)
    rule: str = Field(primary_key=True, max_length=16)  # down, restart, cpu, memory, heartbeat
    firing: bool
    message: str = Field(max_length=1024)
    since: datetime = _timestamp()


class WebhookDelivery(SQLModel, table=True):
    """An outbox row: written with the transition it announces, sent (and retried) afterwards."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_pending", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    process_id: str = _process_fk()
    event: str = Field(max_length=32)
    rule: str = Field(max_length=16)
    url: str = Field(max_length=2048)
    payload: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(max_length=16)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = _timestamp()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1024)
    created_at: datetime = _timestamp()
    delivered_at: datetime | None = _optional_timestamp()


class ClusterNode(SQLModel, table=True):
    """A node of the cluster as the observer last listed it: what node routing matches against."""

    __tablename__ = "cluster_nodes"

    name: str = Field(primary_key=True, max_length=253)
    node_labels: dict[str, str] = Field(sa_column=sa.Column("labels", sa.JSON, nullable=False))
    ready: bool = False
    observed_at: datetime = _timestamp()


_ACTIVE_RELEASE = sa.text(
    "status IN (" + ", ".join(f"'{status.value}'" for status in states.ACTIVE_RELEASE_STATUSES) + ")"
)


class Release(SQLModel, table=True):
    """Release N of an application: an image, the process specs it was made with, and how its
    deployment went. At most one release per application is active (partial unique index)."""

    __tablename__ = "releases"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "number", name="uq_releases_app_number"),
        _unique_where("uq_releases_one_active", "app_id", _ACTIVE_RELEASE),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    app_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False)
    )
    number: int
    image: str = Field(max_length=512)
    is_restart: bool = False
    rollback_of: str | None = Field(default=None, max_length=36)
    status: str = Field(max_length=24)
    # Which post-deployment jobs run: set when the rollout (or the pre jobs) settle.
    outcome: str | None = Field(default=None, max_length=16)
    failure_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    snapshot: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str = Field(max_length=100)
    created_at: datetime = _timestamp()
    pre_jobs_started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    rollout_started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    post_jobs_started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class ReleaseJob(SQLModel, table=True):
    """One Job of one job process in one release, named deterministically so it runs once."""

    __tablename__ = "release_jobs"

    release_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(primary_key=True, max_length=64)
    policy: str = Field(max_length=32)
    job_name: str = Field(max_length=63)
    status: str = Field(max_length=16)
    exit_code: int | None = None
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class RateLimitCounter(SQLModel, table=True):
    """Requests counted in one fixed window of one rate-limit bucket (an API key's reads, an
    address's failed authentications...), shared by every API replica on PostgreSQL."""

    __tablename__ = "rate_limit_counters"

    bucket: str = Field(primary_key=True, max_length=100)
    # The window's start in whole seconds since the epoch: windows are aligned to the clock, so
    # every replica agrees on the current one without talking to the others.
    window_start: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, index=True))
    hits: int
