"""What every request leaves behind: its id, its log fields and its metrics.

`Telemetry` wraps the whole application (outside Litestar's own exception handling and routing),
so it sees every answer, those of refused, shed and unrouted requests included:

- a request id: the client's `X-Request-Id` when it is a sane token, else a new one; returned in
  `X-Request-Id` and bound to every log line of the request (`request_id`);
- `duration_ms` on the lines logged once the response starts (the server's access line among
  them): the time from the request's arrival to its response's start;
- `procplane_http_requests_total` and `procplane_http_request_duration_seconds` by method, route
  template (never the raw path, whose ids would make a series per resource) and status.

The API key's name joins the log fields where the key is known (`controlplane.api.security`)."""

from __future__ import annotations

import re
import time
import uuid

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.api import metrics
from controlplane.domain import logcontext

REQUEST_ID_HEADER = "X-Request-Id"
# A client's id is taken as it is only when it cannot smuggle anything into a log line or a
# header: a short token of letters, digits and a few separators.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    template = scope.get("path_template")
    return template if isinstance(template, str) and template else metrics.UNMATCHED_ROUTE


class Telemetry:
    """The outermost ASGI layer around the Litestar application (see `app.create_app`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500  # what the server answers when the application fails without a response
        token = logcontext.bind(request_id=request_id)

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
                # The server logs its access line while sending this message, within this context.
                logcontext.bind(duration_ms=round((time.perf_counter() - started) * 1000, 1))
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            labels = (scope.get("method", "GET"), route_of(scope), str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)
            logcontext.reset(token)
