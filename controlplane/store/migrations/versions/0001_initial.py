"""Initial schema: resource types, applications, config vars, processes, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps(nullable: bool = False) -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=nullable),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=nullable),
    ]


def upgrade() -> None:
    op.create_table(
        "resource_types",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("cpu_limit", sa.Integer, nullable=False),
        sa.Column("memory_limit", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(30), nullable=False, unique=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False, unique=True),
        sa.Column("image", sa.String(512), nullable=True),
        sa.Column("config_generation", sa.Integer, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "config_vars",
        sa.Column("app_id", sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "processes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("entrypoint", sa.String(1024), nullable=True),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("is_ingress_enabled", sa.Boolean, nullable=False),
        sa.Column("ingress_protocol", sa.String(8), nullable=True),
        sa.Column("scaling_strategy", sa.JSON, nullable=False),
        sa.Column("resource_type_id", sa.String(36), sa.ForeignKey("resource_types.id"), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=True),
        sa.Column("time_zone", sa.String(100), nullable=True),
        sa.Column("job_start_policy", sa.String(32), nullable=True),
        sa.Column("liveness_probe", sa.JSON, nullable=True),
        sa.Column("readiness_probe", sa.JSON, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("app_id", "key", name="uq_processes_app_key"),
    )
    op.create_index("ix_processes_app_id", "processes", ["app_id"])
    op.create_index(
        "uq_processes_one_web",
        "processes",
        ["app_id"],
        unique=True,
        sqlite_where=sa.text("type = 'web'"),
        postgresql_where=sa.text("type = 'web'"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("uq_processes_one_web", table_name="processes")
    op.drop_index("ix_processes_app_id", table_name="processes")
    op.drop_table("processes")
    op.drop_table("config_vars")
    op.drop_table("applications")
    op.drop_table("resource_types")
