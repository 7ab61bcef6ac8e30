"""Liveness and readiness of the API, for probes, and the process's metrics, for Prometheus;
outside `/v1`, without a key, never rate-limited nor shed."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import REGISTRY, generate_latest

from controlplane.api.problems import problem_response
from controlplane.api.ratelimit import UNLIMITED
from controlplane.domain.errors import NotReady
from controlplane.store import db

logger = logging.getLogger("procplane.api")


@get("/healthz", tags=["health"], summary="Liveness", include_in_schema=True, opt=UNLIMITED)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], summary="Readiness: the database answers", opt=UNLIMITED)
async def readyz(state: State) -> Response[Any]:
    try:
        await db.ping(state.session_factory)
    except Exception as exc:  # any database failure means not ready; the operator reads why in the log
        logger.warning("not ready: the database does not answer (%s)", type(exc).__name__)
        return problem_response(NotReady("The database does not answer"))
    return Response({"status": "ok"})


@get("/metrics", tags=["health"], summary="Prometheus metrics of this process", include_in_schema=False, opt=UNLIMITED)
async def metrics() -> Response[bytes]:
    """Every metric of the process: in `procplane serve`, the reconciler's too."""
    # Prometheus's classic text format (what `generate_latest` writes); Litestar adds the charset.
    return Response(generate_latest(REGISTRY), media_type="text/plain; version=0.0.4")
