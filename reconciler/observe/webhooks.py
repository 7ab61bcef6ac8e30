"""Webhook notifications: signing (pure), retry schedule (pure) and sending.

Every delivery is a POST of a JSON body with these headers:

- ``Procplane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``
- ``Procplane-Event``: ``alert.fired`` or ``alert.resolved``
- ``Procplane-Delivery``: the delivery id (the same on every retry, for de-duplication)

A 2xx answer is success. Anything else, or no answer, is retried with exponential backoff up to
the attempt limit, after which the delivery is marked ``failed``; the log stays readable through
the API either way.

Before every attempt the URL's host is resolved again and every address it resolves to is judged
by the target policy (`controlplane.domain.webhook_targets`): a name may point elsewhere than when
the URL was set (DNS rebinding). The request then goes to the address just checked, with the
original name in the Host header and TLS's SNI (the certificate is verified for that name), so no
second lookup can swap the address. A refused target fails the delivery at once, with the reason
in its log; retrying cannot make it acceptable. Redirects are not followed: a 3xx is an answer
like any other non-2xx, since its Location could point anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from controlplane.domain import webhook_targets
from controlplane.domain.settings import Settings
from controlplane.store.observations import Observations
from reconciler import metrics

logger = logging.getLogger("procplane.observer")

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
    # The target policy refused the URL: the delivery fails now instead of being retried.
    final: bool = False


def client(timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The HTTP client deliveries go out with (`verify`: the system's CAs unless told otherwise).
    It keeps no connection for reuse: each delivery connects to the address it has just checked,
    and its TLS session is verified for its own name, never one set up for another webhook that
    happens to share the address."""
    return httpx.AsyncClient(
        timeout=timeout, verify=verify, follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0)
    )


def _refused(reason: str) -> Outcome:
    return Outcome(False, None, f"refused: {reason}"[:1024], final=True)


async def send(
    client: httpx.AsyncClient, url: str, secret: str, delivery_id: str, event: str, payload: dict[str, Any], now: int,
    *, policy: webhook_targets.Policy, resolver: webhook_targets.Resolver, resolve_timeout: float,
) -> Outcome:  # fmt: skip
    try:
        target = webhook_targets.parse(url)
        addresses = await webhook_targets.resolve(target, resolver, resolve_timeout)
        policy.check(target, addresses)
        pinned = httpx.URL(url).copy_with(host=str(addresses[0]))
    except webhook_targets.TargetRefused as exc:
        return _refused(exc.message)
    except httpx.InvalidURL as exc:
        return _refused(f"the URL is not valid ({exc})")
    except webhook_targets.Unresolved as exc:  # perhaps for a moment only: retried
        return Outcome(False, None, str(exc)[:1024])
    body = body_of(payload)
    headers = {
        "Host": target.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, now, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    # The certificate is checked against the name the URL gives, not the address connected to.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.is_name else {}
    try:
        response = await client.post(
            pinned, content=body, headers=headers, extensions=extensions, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:1024])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, None)
    if response.is_redirect:
        return Outcome(False, response.status_code, f"HTTP {response.status_code} (redirects are not followed)")
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")


async def deliver_due(
    store: Observations,
    settings: Settings,
    client: httpx.AsyncClient,
    clock: Callable[[], datetime],
    resolver: webhook_targets.Resolver = webhook_targets.system_resolver,
) -> int:
    """Send every delivery that is due; the number sent successfully."""
    policy = settings.webhook_policy
    sent = 0
    for delivery in await store.due_deliveries(clock()):
        now = clock()
        outcome = await send(
            client, delivery.url, delivery.secret, delivery.id, delivery.event, delivery.payload, int(now.timestamp()),
            policy=policy, resolver=resolver, resolve_timeout=settings.webhook_timeout_seconds,
        )  # fmt: skip
        attempts = delivery.attempts + 1
        retry_at = None
        if not outcome.delivered and not outcome.final and attempts < settings.webhook_max_attempts:
            delay = retry_delay(attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_cap_seconds)
            retry_at = now + timedelta(seconds=delay)
        if outcome.delivered:
            result = "delivered"
        else:
            result = "refused" if outcome.final else "retry" if retry_at is not None else "failed"
        metrics.WEBHOOK_DELIVERIES.labels(result).inc()
        if not outcome.delivered:
            logger.warning("webhook %s to %s failed (%s)", delivery.id, delivery.url, outcome.error)
        await store.finish_delivery(
            delivery.id, now, delivered=outcome.delivered, status_code=outcome.status_code,
            error=outcome.error, retry_at=retry_at,
        )  # fmt: skip
        sent += outcome.delivered
    return sent
