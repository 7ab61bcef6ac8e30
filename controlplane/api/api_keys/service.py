"""API keys: issued once, stored as hashes, revoked but never deleted (for the audit trail)."""

from __future__ import annotations

from datetime import UTC, timedelta

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import auth
from controlplane.api.api_keys import presenter
from controlplane.api.api_keys.schemas import ApiKeyCreated, ApiKeyList, ApiKeyOut
from controlplane.domain import clock, validation
from controlplane.domain.errors import NotFound, Unauthorized, ValidationFailed
from controlplane.store import models, repository


async def create(session: AsyncSession, name: str, role: str, token: str | None = None) -> ApiKeyCreated:
    if errors := validation.api_key_name_errors(name):
        raise ValidationFailed(errors)
    token = token or auth.new_token()
    row = models.ApiKey(
        name=name,
        role=role,
        token_prefix=auth.display_prefix(token),
        token_hash=auth.token_hash(token),
        created_at=clock.utcnow(),
    )
    session.add(row)
    await session.commit()
    return ApiKeyCreated(**msgspec.structs.asdict(presenter.api_key(row)), token=token)


async def list_keys(session: AsyncSession, offset: int, limit: int) -> ApiKeyList:
    rows, total = await repository.list_api_keys(session, offset, limit)
    return ApiKeyList(data=[presenter.api_key(r) for r in rows], total=total, offset=offset, limit=limit)


async def revoke(session: AsyncSession, key_id: str) -> ApiKeyOut:
    row = await repository.get_api_key(session, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = clock.utcnow()
        await session.commit()
    return presenter.api_key(row)


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
    return auth.Principal(key_id=row.id, name=row.name, role=row.role)


async def bootstrap(session: AsyncSession, token: str | None) -> bool:
    """Accept the operator's bootstrap token as an admin key, but only on a first start: once any
    key exists, revoking the bootstrap key must stick across restarts."""
    if not token or await repository.count_api_keys(session) > 0:
        return False
    await create(session, "bootstrap", "admin", token)
    return True
