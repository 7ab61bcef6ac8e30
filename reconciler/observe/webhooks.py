"""Webhook notifications: signing (pure), retry schedule (pure) and sending.

Every delivery is a POST of a JSON body with these headers:

- ``Procplane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``
- ``Procplane-Event``: ``alert.fired`` or ``alert.resolved``
- ``Procplane-Delivery``: the delivery id (the same on every retry, for de-duplication)

A 2xx answer is success. Anything else, or no answer, is retried with exponential backoff up to
the attempt limit, after which the delivery is marked ``failed``; the log stays readable through
the API either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import msgspec

SIGNATURE_HEADER = "Procplane-Signature"
EVENT_HEADER = "Procplane-Event"
DELIVERY_HEADER = "Procplane-Delivery"
USER_AGENT = "procplane-webhooks/1"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does: recompute the signature for the stated time and compare."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def retry_delay(attempts: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2x base, 4x base, ... capped."""
    return float(min(base_seconds * 2 ** max(attempts - 1, 0), cap_seconds))


class Outcome(msgspec.Struct, frozen=True):
    delivered: bool
    status_code: int | None
    error: str | None


async def send(
    client: httpx.AsyncClient, url: str, secret: str, delivery_id: str, event: str, payload: dict[str, Any], now: int
) -> Outcome:
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, now, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:1024])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, None)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")
