"""The heartbeat ping. It sits outside the API-key authentication: instances and cron runs
authenticate with their process's heartbeat token, which is no API key (writers' keys work too)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import auth
from controlplane.api.observing import heartbeats
from controlplane.api.observing.schemas import HeartbeatOut

PING_PATH_PATTERN = r"^/v1/applications/[^/]+/processes/[^/]+/actions/ping$"


class HeartbeatPingController(Controller):
    path = "/applications/{app_id:str}/processes/{process_id:str}/actions/ping"
    tags = ["observing"]
    security = [{"apiKey": []}]

    @post("/", summary="Ping the process's heartbeat : keeps it ALIVE, or RESURRECTED after death",
          status_code=HTTP_200_OK)  # fmt: skip
    async def ping_heartbeat(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, app_id: str, process_id: str
    ) -> HeartbeatOut:
        token = auth.bearer_token(request.headers.get("authorization"))
        return await heartbeats.ping(db_session, app_id, process_id, token)
