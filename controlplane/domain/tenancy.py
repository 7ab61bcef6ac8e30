"""Tenancy: every application belongs to a team, and a caller sees one team or, as an operator,
all of them. The store narrows every query by a `TeamScope`; the API builds it from the key."""

from __future__ import annotations

import msgspec

# The team the first migration to know teams puts every existing application and key in, and
# where an operator's application lands when it names no team.
DEFAULT_TEAM = "default"


class TeamScope(msgspec.Struct, frozen=True):
    """Whose resources a caller may see: those of `team_id`, or every team's when it is None
    (operator keys). Built only through `one` and `every`, so "all teams" is always said aloud."""

    team_id: str | None

    @classmethod
    def one(cls, team_id: str) -> TeamScope:
        return cls(team_id)

    @classmethod
    def every(cls) -> TeamScope:
        return cls(None)

    @property
    def spans_teams(self) -> bool:
        return self.team_id is None

    def sees(self, team_id: str | None) -> bool:
        return self.team_id is None or self.team_id == team_id
