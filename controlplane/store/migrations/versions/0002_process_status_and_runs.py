"""Process status reported by the reconciler, and "run now" requests for cron processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_statuses",
        sa.Column("process_id", sa.String(36), sa.ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("desired_instances", sa.Integer, nullable=False),
        sa.Column("ready_instances", sa.Integer, nullable=False),
        sa.Column("observed_generation", sa.Integer, nullable=True),
        sa.Column("conditions", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "process_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("process_id", sa.String(36), sa.ForeignKey("processes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_name", sa.String(63), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_process_runs_process_id", "process_runs", ["process_id"])


def downgrade() -> None:
    op.drop_index("ix_process_runs_process_id", table_name="process_runs")
    op.drop_table("process_runs")
    op.drop_table("process_statuses")
