"""Teams: every application and every API key belongs to one; operator keys span them all.
Existing applications and keys move into a team named `default`, so an upgraded install keeps
working as before (every key still sees every application, all of them being in one team).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPERATOR_KEY_HAS_NO_TEAM = "(role = 'operator' AND team_id IS NULL) OR (role <> 'operator' AND team_id IS NOT NULL)"


def upgrade() -> None:
    teams = op.create_table(
        "teams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    default_id = str(uuid.uuid4())
    op.bulk_insert(teams, [{"id": default_id, "name": "default", "created_at": datetime.now(UTC)}])
    # Added nullable, filled, then made required: SQLite's batch mode rebuilds the table for the last step.
    for table_name in ("applications", "api_keys"):
        with op.batch_alter_table(table_name) as table:
            table.add_column(sa.Column("team_id", sa.String(36), nullable=True))
        op.execute(sa.text(f"UPDATE {table_name} SET team_id = :team").bindparams(team=default_id))
    with op.batch_alter_table("applications") as table:
        table.alter_column("team_id", existing_type=sa.String(36), nullable=False)
        table.create_foreign_key("fk_applications_team_id_teams", "teams", ["team_id"], ["id"])
        table.create_index("ix_applications_team_id", ["team_id"])
    with op.batch_alter_table("api_keys") as table:
        table.create_foreign_key("fk_api_keys_team_id_teams", "teams", ["team_id"], ["id"])
        table.create_index("ix_api_keys_team_id", ["team_id"])
        table.create_check_constraint("ck_api_keys_operator_has_no_team", OPERATOR_KEY_HAS_NO_TEAM)


def downgrade() -> None:
    # Operator keys have no place in a schema without teams: they would become admins of nothing.
    op.execute(sa.text("UPDATE api_keys SET role = 'admin' WHERE role = 'operator'"))
    with op.batch_alter_table("api_keys") as table:
        table.drop_constraint("ck_api_keys_operator_has_no_team", type_="check")
        table.drop_index("ix_api_keys_team_id")
        table.drop_constraint("fk_api_keys_team_id_teams", type_="foreignkey")
        table.drop_column("team_id")
    with op.batch_alter_table("applications") as table:
        table.drop_index("ix_applications_team_id")
        table.drop_constraint("fk_applications_team_id_teams", type_="foreignkey")
        table.drop_column("team_id")
    op.drop_table("teams")
