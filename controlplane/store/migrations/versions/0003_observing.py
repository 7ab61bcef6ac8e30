"""Observing what runs: instances, samples, restarts, alert rules and states, webhook deliveries,
heartbeats and the cluster's nodes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _process_id(primary_key: bool = False) -> sa.Column[Any]:
    return sa.Column(
        "process_id",
        sa.String(36),
        sa.ForeignKey("processes.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "process_alert_rules",
        _process_id(primary_key=True),
        sa.Column("alert_on_down", sa.Boolean, nullable=False),
        sa.Column("alert_on_restart", sa.Boolean, nullable=False),
        sa.Column("alert_on_cpu", sa.Boolean, nullable=False),
        sa.Column("alert_on_memory", sa.Boolean, nullable=False),
        sa.Column("cpu_threshold_pct", sa.Float, nullable=False),
        sa.Column("memory_threshold_pct", sa.Float, nullable=False),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        sa.Column("webhook_secret", sa.String(64), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "process_heartbeats",
        _process_id(primary_key=True),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        _when("last_heartbeat_at"),
        _when("next_heartbeat_at"),
        _when("created_at"),
    )
    op.create_table(
        "process_instances",
        _process_id(primary_key=True),
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("app_id", sa.String(36), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("uid", sa.String(64), nullable=False),
        sa.Column("node", sa.String(253), nullable=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.String(128), nullable=True),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("image", sa.String(512), nullable=True),
        _when("started_at", nullable=True),
        sa.Column("last_termination_reason", sa.String(128), nullable=True),
        sa.Column("last_exit_code", sa.Integer, nullable=True),
        _when("last_terminated_at", nullable=True),
        sa.Column("cpu_millicores", sa.Float, nullable=True),
        sa.Column("memory_bytes", sa.BigInteger, nullable=True),
        sa.Column("cpu_pct", sa.Float, nullable=True),
        sa.Column("memory_pct", sa.Float, nullable=True),
        _when("created_at", nullable=True),
        _when("observed_at"),
    )
    op.create_index("ix_process_instances_node", "process_instances", ["node"])
    op.create_table(
        "process_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _process_id(),
        _when("recorded_at"),
        sa.Column("resolution_seconds", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("ready_count", sa.Integer, nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("cpu_millicores", sa.Float, nullable=True),
        sa.Column("memory_bytes", sa.BigInteger, nullable=True),
        sa.Column("cpu_pct", sa.Float, nullable=True),
        sa.Column("memory_pct", sa.Float, nullable=True),
        sa.Column("oldest_start_unix", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_process_samples_process_recorded", "process_samples", ["process_id", "recorded_at"])
    op.create_table(
        "process_restarts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _process_id(),
        sa.Column("instance", sa.String(253), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(128), nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        _when("observed_at"),
    )
    op.create_index("ix_process_restarts_process_id", "process_restarts", ["process_id"])
    op.create_table(
        "process_alert_states",
        _process_id(primary_key=True),
        sa.Column("rule", sa.String(16), primary_key=True),
        sa.Column("firing", sa.Boolean, nullable=False),
        sa.Column("message", sa.String(1024), nullable=False),
        _when("since"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        _process_id(),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _when("next_attempt_at"),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(1024), nullable=True),
        _when("created_at"),
        _when("delivered_at", nullable=True),
    )
    op.create_index("ix_webhook_deliveries_process_id", "webhook_deliveries", ["process_id"])
    op.create_index("ix_webhook_deliveries_pending", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "cluster_nodes",
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("ready", sa.Boolean, nullable=False),
        _when("observed_at"),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_process_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("process_alert_states")
    op.drop_index("ix_process_restarts_process_id", table_name="process_restarts")
    op.drop_table("process_restarts")
    op.drop_index("ix_process_samples_process_recorded", table_name="process_samples")
    op.drop_table("process_samples")
    op.drop_index("ix_process_instances_node", table_name="process_instances")
    op.drop_table("process_instances")
    op.drop_table("process_heartbeats")
    op.drop_table("process_alert_rules")
