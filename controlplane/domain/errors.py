"""The typed errors of the domain, each with a stable `code`. The API maps each kind to its HTTP
status and RFC 9457 problem in one place (`controlplane.api.problems`)."""

from __future__ import annotations

from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True, omit_defaults=True):
    """One reason one field was refused. `field` is a dotted path into the request body
    (`scaling_strategy.config.maxInstanceCount`) or the name of a query parameter; `line` points
    into an uploaded Procfile."""

    field: str
    code: str
    message: str
    line: int | None = None


class DomainError(Exception):
    """A refusal in the domain's words: a stable `code`, a title, a sentence, and any members a
    client needs to act on it (`extra`)."""

    code: str = "internal_error"
    title: str = "Internal server error"

    def __init_subclass__(cls, *, code: str | None = None, title: str | None = None) -> None:
        # Each kind declares its code and title in its class line: `class NotFound(DomainError, code=...)`.
        super().__init_subclass__()
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError, code="validation_failed", title="The request is not valid"):
    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        # The sentence a client prints names every refused field and why: "port: must be between 1 and 65535".
        reasons = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail or f"Invalid request: {reasons}", errors=[msgspec.to_builtins(e) for e in errors])
        self.errors = errors


class Unauthorized(DomainError, code="unauthorized", title="Authentication required"): ...


class Forbidden(DomainError, code="forbidden", title="Not allowed for this API key"): ...


class NotFound(DomainError, code="not_found", title="Not found"): ...


class PlanLimitReached(DomainError, code="plan_limit_reached", title="Plan limit reached"):
    def __init__(self, detail: str, *, scope: str, limit: int) -> None:
        super().__init__(detail, scope=scope, limit=limit)


class DuplicateProcess(DomainError, code="duplicate_process", title="A process with this key already exists"): ...


class DuplicateApplication(
    DomainError, code="duplicate_application", title="An application with this name already exists"
): ...


class DuplicateTeam(DomainError, code="duplicate_team", title="A team with this name already exists"): ...


class Conflict(DomainError, code="conflict", title="Conflict"): ...


class LastAdminKey(Conflict, code="last_admin_key", title="The last admin API key of a team cannot be revoked"):
    """Revoking it would leave its team without a key that can manage the team's keys."""


class LastOperatorKey(Conflict, code="last_operator_key", title="The last operator API key cannot be revoked"):
    """Revoking it would leave nobody able to create teams or reach every team."""


class PreconditionFailed(DomainError, code="precondition_failed", title="The resource changed since it was read"): ...


class UnsupportedMediaType(DomainError, code="unsupported_media_type", title="Unsupported media type"): ...


class RateLimited(DomainError, code="rate_limited", title="Too many requests"):
    """Over a rate limit: `limit` requests per window of the `scope` named (`reads`, `writes`,
    `creations`, `auth_failures`, `heartbeat_pings`); `retry_after` is whole seconds until the
    window ends."""

    def __init__(self, detail: str, *, scope: str, limit: int, retry_after: int) -> None:
        super().__init__(detail, scope=scope, limit=limit, retry_after=retry_after)


class NotReady(DomainError, code="not_ready", title="Not ready"): ...


class ServiceUnavailable(DomainError, code="unavailable", title="Temporarily unavailable"):
    """Refused for now, not for good: procplane or its database is too busy to take this request
    (a lock not had in time, no database connection free, too many requests in flight); the same
    request may succeed after `retry_after` seconds, which the API also sends as `Retry-After`."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after
