"""Rate limits: per API key and per team (reads, writes, creations), per client address and presented token
(failed authentications) and per heartbeat token (pings), counted in fixed windows aligned to
the clock. On PostgreSQL the counters are rows shared by every API replica, so N replicas do not
grant N budgets; on SQLite, which serves one process, they are counted in memory."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import msgspec
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.api import auth, metrics
from controlplane.domain.errors import RateLimited, Unauthorized
from controlplane.domain.settings import Settings
from controlplane.domain.states import RateLimitScope
from controlplane.store import rate_limits

# Seconds since the epoch; tests pass a clock they move by hand instead of sleeping.
Clock = Callable[[], float]

# A route handler's `opt` key naming the budget its requests count against when not the one of
# its HTTP method (a POST that creates something counts as a creation, a ping as a ping).
RATE_LIMIT_OPT = "rate_limit"
# A route handler's `opt` key that exempts it from rate limits and from overload shedding (probes).
UNLIMITED_OPT = "unlimited"

# The `opt` of a handler whose POST creates something (and so counts against the lowest budget),
# and of the probes.
CREATES: dict[str, Any] = {RATE_LIMIT_OPT: RateLimitScope.CREATIONS}
UNLIMITED: dict[str, Any] = {UNLIMITED_OPT: True}

T = TypeVar("T")


class Counter(Protocol):
    async def hit(self, buckets: Sequence[str], window_start: int) -> dict[str, int]:
        """Count one request in each bucket's current window; return each bucket's count."""


class MemoryCounter:
    """The counters of one process. Only the current window matters, so a new window forgets
    the previous one: memory stays bounded by the buckets of one window."""

    def __init__(self) -> None:
        self._window_start = -1
        self._counts: dict[str, int] = {}

    async def hit(self, buckets: Sequence[str], window_start: int) -> dict[str, int]:
        if window_start != self._window_start:
            self._window_start, self._counts = window_start, {}
        for bucket in set(buckets):
            self._counts[bucket] = self._counts.get(bucket, 0) + 1
        return {bucket: self._counts[bucket] for bucket in buckets}


class DatabaseCounter:
    """The counters in PostgreSQL: one upsert per request; the first request of each new window
    in this process also deletes the windows before the previous one."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], window_seconds: int) -> None:
        self._factory = factory
        self._window_seconds = window_seconds
        self._pruned_window = -1

    async def hit(self, buckets: Sequence[str], window_start: int) -> dict[str, int]:
        async with self._factory() as session:
            counts = await rate_limits.count_hits(session, buckets, window_start)
            await session.commit()
            if window_start > self._pruned_window:
                self._pruned_window = window_start
                # The previous window is kept: another replica's clock may still be in it.
                await rate_limits.prune_windows(session, window_start - self._window_seconds)
                await session.commit()
        return counts


class Quota(msgspec.Struct, frozen=True):
    """Where a request leaves its budget, for the RateLimit-* headers of the answer."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimiter:
    """The policy: which budget a request counts against, and whether it is spent."""

    def __init__(self, settings: Settings, counter: Counter, clock: Clock = time.time) -> None:
        self.enabled = settings.rate_limits_enabled
        self.window_seconds = settings.rate_limit_window_seconds
        self.limits = {
            RateLimitScope.READS: settings.rate_limit_reads,
            RateLimitScope.WRITES: settings.rate_limit_writes,
            RateLimitScope.CREATIONS: settings.rate_limit_creations,
            RateLimitScope.AUTH_FAILURES: settings.rate_limit_auth_failures,
            RateLimitScope.HEARTBEAT_PINGS: settings.rate_limit_heartbeat_pings,
        }
        self.team_factor = settings.rate_limit_team_factor
        self._counter = counter
        self._clock = clock
        # Buckets of failed authentications over their limit, and when their window ends: their
        # requests are refused without a look at the key (nor at the database).
        self._blocked_until: dict[str, float] = {}
        self._earliest_unblock = math.inf

    def _window(self) -> tuple[int, int]:
        """The current window's start and the whole seconds (at least 1) until it ends."""
        now = self._clock()
        start = int(now // self.window_seconds) * self.window_seconds
        return start, max(1, math.ceil(start + self.window_seconds - now))

    def _refusal(
        self, scope: RateLimitScope, retry_after: int, limit: int | None = None, whose: str = ""
    ) -> RateLimited:
        limit = self.limits[scope] if limit is None else limit
        metrics.RATE_LIMIT_REFUSALS.labels(scope).inc()
        what = str(scope).replace("_", " ")
        return RateLimited(
            f"Rate limit of {limit} {what}{whose} per {self.window_seconds} s reached; retry in {retry_after} s",
            scope=scope,
            limit=limit,
            retry_after=retry_after,
        )

    async def spend(self, scope: RateLimitScope, subject: str, team_id: str | None = None) -> Quota:
        """Count a request of `subject` (an API key, a heartbeat token...) against its budget of
        `scope`, and of its team's when it has one (both in one count); raise RateLimited once
        either is spent for the window. The quota returned is the tighter of the two."""
        start, reset = self._window()
        budgets = {f"{scope}:{subject}": (self.limits[scope], "")}
        if team_id is not None:
            budgets[f"{scope}:team:{team_id}"] = (self.limits[scope] * self.team_factor, " for the team")
        counts = await self._counter.hit(list(budgets), start)
        quotas = []
        for bucket, (limit, whose) in budgets.items():
            if counts[bucket] > limit:
                raise self._refusal(scope, reset, limit, whose)
            quotas.append(Quota(limit=limit, remaining=limit - counts[bucket], reset_seconds=reset))
        return min(quotas, key=lambda quota: quota.remaining)

    def check_not_blocked(self, address: str | None, token: str | None) -> None:
        """Refuse at once a client address or a token that failed authentication too often."""
        if not self.enabled or not self._blocked_until:
            return
        now = self._clock()
        for bucket in self._failure_buckets(address, token):
            until = self._blocked_until.get(bucket)
            if until is not None and until > now:
                raise self._refusal(RateLimitScope.AUTH_FAILURES, max(1, math.ceil(until - now)))
        # Forget the expired blocks once the earliest has expired: a rebuild per window at most.
        if now >= self._earliest_unblock:
            self._blocked_until = {bucket: until for bucket, until in self._blocked_until.items() if until > now}
            self._earliest_unblock = min(self._blocked_until.values(), default=math.inf)

    async def record_failure(self, address: str | None, token: str | None) -> None:
        """Count a failed authentication per address and per token; raise RateLimited (instead
        of the 401 the caller is about to answer) once either is over its limit."""
        if not self.enabled:
            return
        buckets = self._failure_buckets(address, token)
        if not buckets:
            return
        start, reset = self._window()
        counts = await self._counter.hit(buckets, start)
        over = [bucket for bucket, count in counts.items() if count > self.limits[RateLimitScope.AUTH_FAILURES]]
        if over:
            until = start + self.window_seconds
            for bucket in over:
                self._blocked_until[bucket] = until
            self._earliest_unblock = min(self._earliest_unblock, until)
            raise self._refusal(RateLimitScope.AUTH_FAILURES, reset)

    async def authenticate(self, address: str | None, token: str | None, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` (which raises Unauthorized for a bad token) unless the address or the
        token is blocked, counting its failure."""
        self.check_not_blocked(address, token)
        try:
            return await attempt()
        except Unauthorized:
            await self.record_failure(address, token)  # raises RateLimited once over the limit
            raise

    @staticmethod
    def _failure_buckets(address: str | None, token: str | None) -> list[str]:
        buckets = []
        if address:
            buckets.append(f"{RateLimitScope.AUTH_FAILURES}:address:{address}")
        if token:
            buckets.append(f"{RateLimitScope.AUTH_FAILURES}:token:{auth.token_hash(token)}")
        return buckets


def limiter_of(scope: Scope) -> RateLimiter:
    limiter: RateLimiter = scope["litestar_app"].state.rate_limiter
    return limiter


def client_address(scope: Scope) -> str | None:
    """The peer's address as the server sees it (behind a proxy, the one the server was told to
    trust in its forwarded headers)."""
    client = scope.get("client")
    return client[0] if client else None


def budget_of(scope: Scope) -> RateLimitScope:
    """The budget a request counts against: its handler's, else its method's."""
    chosen = scope["route_handler"].opt.get(RATE_LIMIT_OPT)
    if chosen is not None:
        return RateLimitScope(chosen)
    method = scope.get("method", "GET")
    return RateLimitScope.READS if method in auth.READ_METHODS else RateLimitScope.WRITES


class RateLimits(ASGIMiddleware):
    """Runs after authentication: an authenticated request counts against its API key's budget;
    a heartbeat ping against its heartbeat token's (or, without one, its address's). Answers
    within a limit carry RateLimit-Limit, -Remaining and -Reset."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = UNLIMITED_OPT

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        limiter = limiter_of(scope)
        if not limiter.enabled:
            await next_app(scope, receive, send)
            return
        user: Any = scope.get("user")
        budget = budget_of(scope)
        if isinstance(user, auth.Principal):
            quota = await limiter.spend(budget, f"key:{user.key_id}", user.team_id)
        elif budget is RateLimitScope.HEARTBEAT_PINGS:
            token = auth.bearer_token(_header(scope, b"authorization"))
            subject = f"token:{auth.token_hash(token)}" if token else f"address:{client_address(scope)}"
            quota = await limiter.spend(budget, subject)
        else:  # unauthenticated and unlimited by design (the OpenAPI schema)
            await next_app(scope, receive, send)
            return

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in quota.headers().items():
                    headers[name] = value
            await send(message)

        await next_app(scope, receive, send_with_quota)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
