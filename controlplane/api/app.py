"""The Litestar application: routes, dependencies, errors, OpenAPI, start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import HttpMethod, Litestar, Router
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.types import Method
from litestar.types.internal_types import PathParameterDefinition

from controlplane.api import deps as dependencies
from controlplane.api import openapi, problems, ratelimit, security, strict_body, telemetry
from controlplane.api.api_keys import service as api_keys
from controlplane.api.api_keys.controller import ApiKeyController
from controlplane.api.applications.controller import ApplicationController
from controlplane.api.catalog import service as resource_types
from controlplane.api.catalog.controller import ResourceTypeController
from controlplane.api.deployments.controller import ReleaseController
from controlplane.api.health import healthz, metrics, readyz
from controlplane.api.observing.controller import ObservingController
from controlplane.api.observing.ping_controller import PING_PATH_PATTERN, HeartbeatPingController
from controlplane.api.overload import InFlight, ShedOverload
from controlplane.api.processes.controller import ProcessController, ProcfileController
from controlplane.api.search.controller import NodeController, ProcessSearchController
from controlplane.api.teams.controller import TeamController
from controlplane.domain import webhook_targets
from controlplane.domain.settings import Settings
from controlplane.store import db, migrate

logger = logging.getLogger("procplane")


def operation_id(
    route_handler: HTTPRouteHandler, _method: HttpMethod | Method, _path: list[str | PathParameterDefinition]
) -> str:
    """`openapi.operation_name`; Litestar refuses duplicates."""
    return openapi.operation_name(route_handler)


def create_app(
    settings: Settings,
    *,
    run_migrations: bool = True,
    webhook_resolver: webhook_targets.Resolver = webhook_targets.system_resolver,
    clock: ratelimit.Clock = time.time,
) -> Litestar:
    """`clock` is the rate limits' (seconds since the epoch): tests move it instead of sleeping."""
    engine = db.create_engine(
        settings.database_url,
        busy_timeout_seconds=settings.database_busy_timeout_seconds,
        pool_size=settings.database_pool_size,
        pool_overflow=settings.database_pool_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
    )
    factory = db.session_factory(engine)
    # SQLite serves one process by design, so its counters live in memory; on PostgreSQL they
    # are rows every replica counts in.
    counter: ratelimit.Counter = (
        ratelimit.MemoryCounter()
        if db.is_sqlite(settings.database_url)
        else ratelimit.DatabaseCounter(factory, settings.rate_limit_window_seconds)
    )
    limiter = ratelimit.RateLimiter(settings, counter, clock)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if run_migrations:
            await migrate.upgrade_async(settings.database_url)
        async with factory() as session:
            await resource_types.sync_catalog(session, settings.resource_types)
            if await api_keys.bootstrap(session, settings.bootstrap_token):
                logger.info("accepted the bootstrap token as the first operator API key")
        try:
            yield
        finally:
            await engine.dispose()

    v1 = Router(
        path="/v1",
        route_handlers=[
            ApplicationController,
            ProcessController,
            ProcfileController,
            ReleaseController,
            ResourceTypeController,
            ApiKeyController,
            TeamController,
            ObservingController,
            ProcessSearchController,
            NodeController,
        ],
        guards=[security.writers_only],
        security=[{"apiKey": []}],
    )
    # Authenticated by the process's heartbeat token in the handler, not by the API-key middleware.
    pings = Router(path="/v1", route_handlers=[HeartbeatPingController])
    app = Litestar(
        route_handlers=[v1, pings, healthz, readyz, metrics],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "session_factory": factory,
                "webhook_resolver": webhook_resolver,
                "rate_limiter": limiter,
            }
        ),
        dependencies=dependencies.PROVIDERS,
        # Outermost first: the bound on requests in flight holds before any database work; the
        # rate limits run once authentication knows the key.
        middleware=[
            ShedOverload(InFlight(settings.max_requests_in_flight)),
            DefineMiddleware(
                security.ApiKeyAuthentication,
                exclude=[r"^/healthz", r"^/readyz", r"^/metrics", r"^/schema", PING_PATH_PATTERN],
            ),
            ratelimit.RateLimits(),
        ],
        # Every route, whatever its controller, reads its input through the one strict decoder.
        before_request=strict_body.decode_strictly,
        request_max_body_size=strict_body.MAX_BODY_BYTES,
        exception_handlers=problems.EXCEPTION_HANDLERS,
        # Logging is configured once for the whole process (`procplane.logs`); Litestar's own
        # configuration would replace the root handler with a format of its own. Failures are
        # logged by procplane's exception handlers (`problems`).
        logging_config=None,
        plugins=[openapi.ClosedRequests()],
        openapi_config=OpenAPIConfig(
            title="procplane",
            version="1",
            description="Declare an application's processes; procplane runs them on Kubernetes.",
            path="/schema",
            components=security.BEARER_COMPONENTS,
            operation_id_creator=operation_id,
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
    )
    openapi.document(app)
    # Outside Litestar's routing and exception handling, so that refused, shed and unrouted
    # requests are counted and carry a request id too (middleware sees only routed requests).
    app.asgi_handler = telemetry.Telemetry(app.asgi_handler)
    return app
