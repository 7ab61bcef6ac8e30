"""Bearer API-key authentication and the role guards."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.api import auth, ratelimit
from controlplane.api.api_keys import service as api_keys
from controlplane.domain import logcontext
from controlplane.domain.errors import Forbidden, Unauthorized

BEARER_COMPONENTS = Components(
    security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="procplane API key")}
)


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = auth.bearer_token(connection.headers.get("authorization"))
        factory: async_sessionmaker[AsyncSession] = connection.app.state.session_factory

        async def attempt() -> auth.Principal:
            if token is None:
                raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'")
            async with factory() as session:
                return await api_keys.authenticate(session, token)

        # An address or a token that keeps failing is refused before its key is even looked up.
        limiter = ratelimit.limiter_of(connection.scope)
        principal = await limiter.authenticate(ratelimit.client_address(connection.scope), token, attempt)
        # The rest of the request's log lines name the key; its token is never logged.
        logcontext.bind(api_key=principal.name)
        return AuthenticationResult(user=principal, auth=token)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> auth.Principal:
    # The middleware authenticates every method but OPTIONS; a guard that reaches here without a
    # principal refuses rather than fails.
    user = connection.scope.get("user")
    if not isinstance(user, auth.Principal):
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'")
    return user


def writers_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Viewers read; only admin and deployer keys change anything."""
    if connection.scope.get("method", "GET") not in auth.READ_METHODS and not principal_of(connection).can_write:
        raise Forbidden("This API key is read-only (role viewer)")


def admins_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # OPTIONS only lists the methods of a route, and is answered without a key on every route.
    if connection.scope.get("method") == "OPTIONS":
        return
    if not principal_of(connection).manages_keys:
        raise Forbidden("Only admin and operator API keys manage API keys")


def operators_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("method") == "OPTIONS":
        return
    if not principal_of(connection).is_operator:
        raise Forbidden("Only operator API keys manage teams")
