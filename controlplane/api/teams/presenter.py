"""Stored teams to their wire form."""

from __future__ import annotations

from controlplane.api.teams.schemas import TeamOut
from controlplane.api.wire import from_row
from controlplane.store import models


def team(row: models.Team) -> TeamOut:
    return from_row(TeamOut, row)
