"""The heartbeat ping. It sits outside the API-key authentication: instances and cron runs
authenticate with their process's heartbeat token, which is no API key (writers' keys work too)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import auth, ratelimit
from controlplane.api.observing import heartbeats
from controlplane.api.observing.schemas import HeartbeatOut
from controlplane.domain.states import RateLimitScope

PING_PATH_PATTERN = r"^/v1/applications/[^/]+/processes/[^/]+/actions/ping$"


class HeartbeatPingController(Controller):
    path = "/applications/{app_id:str}/processes/{process_id:str}/actions/ping"
    tags = ["observing"]
    security = [{"apiKey": []}]

    @post("/", summary="Ping the process's heartbeat : keeps it ALIVE, or RESURRECTED after death",
          status_code=HTTP_200_OK, opt={ratelimit.RATE_LIMIT_OPT: RateLimitScope.HEARTBEAT_PINGS})  # fmt: skip
    async def ping_heartbeat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, app_id: str, process_id: str
    ) -> HeartbeatOut:
        token = auth.bearer_token(request.headers.get("authorization"))
        limiter = ratelimit.limiter_of(request.scope)
        address = ratelimit.client_address(request.scope)
        # Wrong tokens count as failed authentications, as wrong API keys do.
        return await limiter.authenticate(
            address, token, lambda: heartbeats.ping(db_session, app_id, process_id, token)
        )
