"""Releases: deployments of an image with jobs before and after, rollback and restart.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('pending', 'running_pre_jobs', 'rolling_out', 'running_post_jobs')")


def upgrade() -> None:
    with op.batch_alter_table("applications") as table:
        table.add_column(sa.Column("restart_token", sa.String(36), nullable=True))
    with op.batch_alter_table("processes") as table:
        table.add_column(sa.Column("job_timeout_seconds", sa.Integer, nullable=True))
        table.add_column(sa.Column("job_retries", sa.Integer, nullable=True))
        table.add_column(sa.Column("job_ttl_seconds", sa.Integer, nullable=True))
    op.create_table(
        "releases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("is_restart", sa.Boolean, nullable=False),
        sa.Column("rollback_of", sa.String(36), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pre_jobs_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rollout_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_jobs_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("app_id", "number", name="uq_releases_app_number"),
    )
    op.create_index(
        "uq_releases_one_active", "releases", ["app_id"], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
    )
    op.create_table(
        "release_jobs",
        sa.Column("release_id", sa.String(36), sa.ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("job_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("release_jobs")
    op.drop_index("uq_releases_one_active", table_name="releases")
    op.drop_table("releases")
    with op.batch_alter_table("processes") as table:
        table.drop_column("job_ttl_seconds")
        table.drop_column("job_retries")
        table.drop_column("job_timeout_seconds")
    with op.batch_alter_table("applications") as table:
        table.drop_column("restart_token")
