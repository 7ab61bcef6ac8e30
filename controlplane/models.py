"""Database tables. The schema itself is created by the Alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, **kwargs))


class ResourceType(SQLModel, table=True):
    __tablename__ = "resource_types"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=64, unique=True)
    category: str = Field(max_length=64)
    cpu_limit: int
    memory_limit: int
    active: bool = True


class Application(SQLModel, table=True):
    __tablename__ = "applications"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=30, unique=True)
    display_name: str = Field(max_length=255)
    namespace: str = Field(max_length=63, unique=True)
    image: str | None = Field(default=None, max_length=512)
    # Bumped with every config-var change so the reconciler can tell the Secret is stale.
    config_generation: int = 1
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
        sa.Index(
            "uq_processes_one_web",
            "app_id",
            unique=True,
            sqlite_where=sa.text("type = 'web'"),
            postgresql_where=sa.text("type = 'web'"),
        ),
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
    # Bumped in the same transaction as every spec change; the reconciler reports the one it applied.
    generation: int = 1
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
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
