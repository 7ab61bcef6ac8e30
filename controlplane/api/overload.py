"""Overload shedding: an API process serves a bounded number of requests at once and answers the
next ones 503 `unavailable` with Retry-After straight away. Without the bound, a burst queues on
the database pool until the requests time out as 500s and the throughput collapses; with it,
the admitted requests keep their pace and the others are told to come back."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from controlplane.api import metrics
from controlplane.api.ratelimit import UNLIMITED_OPT
from controlplane.domain.errors import ServiceUnavailable

# A shed request is worth retrying as soon as the requests in flight have finished: usually
# well within a second.
SHED_RETRY_AFTER_SECONDS = 1


class InFlight:
    """The number of requests this process is serving, and its bound. The event loop runs one
    coroutine at a time, so the count needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0


class ShedOverload(ASGIMiddleware):
    """The outermost middleware: the bound holds before any database work. Probes are exempt, so
    a busy process is not restarted for being busy."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = UNLIMITED_OPT

    def __init__(self, in_flight: InFlight) -> None:
        self.in_flight = in_flight

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        in_flight = self.in_flight
        if in_flight.count >= in_flight.limit:
            metrics.OVERLOAD_SHED.inc()
            raise ServiceUnavailable(
                f"procplane is serving its maximum of {in_flight.limit} requests at once; retry shortly",
                retry_after=SHED_RETRY_AFTER_SECONDS,
            )
        in_flight.count += 1
        try:
            await next_app(scope, receive, send)
        finally:
            in_flight.count -= 1
