"""API keys: generation, hashing and the roles that gate each request."""

from __future__ import annotations

import hashlib
import secrets

import msgspec

from controlplane.domain import states
from controlplane.domain.tenancy import TeamScope

# Methods that change nothing: every role may send them, and they count against the reads.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

TOKEN_PREFIX = "pp_"  # noqa: S105 - a marker that makes leaked keys recognisable, not a secret


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the API key that authenticated the request, its role and its team (None
    for an operator key, which spans every team)."""

    key_id: str
    name: str
    role: str
    team_id: str | None

    @property
    def can_write(self) -> bool:
        return self.role in states.WRITE_ROLES

    @property
    def manages_keys(self) -> bool:
        return self.role in states.KEY_MANAGER_ROLES

    @property
    def is_operator(self) -> bool:
        return self.role == states.Role.OPERATOR

    @property
    def scope(self) -> TeamScope:
        """What this key may see: its team, or every team for an operator key."""
        if self.team_id is None:
            assert self.is_operator, "only operator keys have no team (a check constraint holds it)"
            return TeamScope.every()
        return TeamScope.one(self.team_id)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """Enough of the token to recognise it in a list, far too little to use it."""
    return token[:10]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
