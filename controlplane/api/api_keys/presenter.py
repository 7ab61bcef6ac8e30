"""Stored api keys to their wire form."""

from __future__ import annotations

from controlplane.api.api_keys.schemas import ApiKeyOut
from controlplane.domain.naming import optional_timestamp, timestamp
from controlplane.store import models


def api_key(row: models.ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.token_prefix,
        created_at=timestamp(row.created_at),
        last_used_at=optional_timestamp(row.last_used_at),
        revoked_at=optional_timestamp(row.revoked_at),
    )
