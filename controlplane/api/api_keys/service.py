"""API keys: issued once, stored as hashes, revoked but never deleted (for the audit trail).
A key belongs to one team with a role, or is an operator key spanning every team; an admin
manages its own team's keys, an operator every key."""

from __future__ import annotations

from datetime import UTC, timedelta

import msgspec
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import auth
from controlplane.api.api_keys import presenter
from controlplane.api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from controlplane.api.teams.service import team_of_new
from controlplane.domain import clock, validation
from controlplane.domain.errors import (
    FieldError,
    Forbidden,
    LastAdminKey,
    LastOperatorKey,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from controlplane.domain.states import Role
from controlplane.domain.tenancy import TeamScope
from controlplane.store import models, repository


async def create(
    session: AsyncSession, name: str, role: str, team_id: str | None, token: str | None = None
) -> ApiKeyCreated:
    """Store a key as given (the caller has checked who may create it): `team_id` is None for an
    operator key and names the key's team for any other."""
    if errors := validation.api_key_name_errors(name):
        raise ValidationFailed(errors)
    token = token or auth.new_token()
    row = models.ApiKey(
        team_id=team_id,
        name=name,
        role=role,
        token_prefix=auth.display_prefix(token),
        token_hash=auth.token_hash(token),
        created_at=clock.utcnow(),
    )
    session.add(row)
    await session.commit()
    return ApiKeyCreated(**msgspec.structs.asdict(presenter.api_key(row)), token=token)


async def issue(session: AsyncSession, caller: auth.Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    """A key created over the API: an admin's lands in its own team; an operator's in the team it
    names (the default team when it names none), or in no team when it is an operator key."""
    if errors := validation.api_key_name_errors(data.name):
        raise ValidationFailed(errors)
    if data.role == Role.OPERATOR:
        if not caller.is_operator:
            raise Forbidden("Only an operator key creates operator keys")
        if data.team_id is not UNSET:
            raise ValidationFailed(
                [FieldError("team_id", "not_allowed_for_role", "an operator key spans every team and has none")]
            )
        return await create(session, data.name, data.role, None)
    return await create(session, data.name, data.role, await team_of_new(session, caller, data.team_id))


async def list_keys(session: AsyncSession, scope: TeamScope, offset: int, limit: int) -> ApiKeyList:
    rows, total = await repository.list_api_keys(session, scope, offset, limit)
    return ApiKeyList(data=[presenter.api_key(r) for r in rows], total=total, offset=offset, limit=limit)


async def revoke(session: AsyncSession, scope: TeamScope, key_id: str) -> ApiKeyOut:
    """Revoke a key, unless it is the last unrevoked admin key of its team (nobody could manage
    the team's keys any more) or the last operator key (nobody could manage teams)."""
    found = await repository.get_api_key(session, scope, key_id)
    if found is None:
        raise NotFound(f"API key {key_id} does not exist")
    if found.revoked_at is not None:
        return presenter.api_key(found)
    # Lock before counting, so two admins revoking each other at once cannot both succeed.
    if found.team_id is not None:
        await repository.lock_team(session, found.team_id)
    else:
        await repository.lock_operator_keys(session)
    await session.refresh(found)
    if found.revoked_at is None:
        if (
            found.role in (Role.ADMIN, Role.OPERATOR)
            and await repository.count_live_keys(session, found.role, found.team_id) <= 1
        ):
            if found.role == Role.OPERATOR:
                raise LastOperatorKey("This is the last operator API key; create another before revoking it")
            raise LastAdminKey("This is the team's last admin API key; create another admin key before revoking it")
        found.revoked_at = clock.utcnow()
        await session.commit()
    return presenter.api_key(found)


# Recording every request's use would turn each read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def authenticate(session: AsyncSession, token: str) -> auth.Principal:
    row = await repository.api_key_by_hash(session, auth.token_hash(token))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The API key is unknown or revoked")
    now = clock.utcnow()
    last = row.last_used_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.commit()
    return auth.Principal(key_id=row.id, name=row.name, role=row.role, team_id=row.team_id)


async def bootstrap(session: AsyncSession, token: str | None) -> bool:
    """Accept the operator's bootstrap token as an operator key, but only on a first start: once
    any key exists, revoking the bootstrap key must stick across restarts."""
    if not token or await repository.count_api_keys(session) > 0:
        return False
    await create(session, "bootstrap", Role.OPERATOR, None, token)
    return True
