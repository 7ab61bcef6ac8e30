"""Stored api keys to their wire form."""

from __future__ import annotations

from controlplane.api.api_keys.schemas import ApiKeyOut
from controlplane.api.wire import from_row
from controlplane.store import models


def api_key(row: models.ApiKey) -> ApiKeyOut:
    return from_row(ApiKeyOut, row, prefix=row.token_prefix)
