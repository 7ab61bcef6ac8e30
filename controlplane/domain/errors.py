"""The typed errors of the API. Each maps to one RFC 9457 problem with a stable `code`."""

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


class ProblemError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """RFC 9457 members, plus `message` and `data` in the shape Sevalla's clients read."""
        return {
            "type": f"https://procplane.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "message": self.detail,
            "data": {"code": self.code, "message": self.detail},
            **self.extra,
        }


class ValidationFailed(ProblemError):
    status = 400
    code = "validation_failed"
    title = "The request is not valid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        # The sentence a client prints names every refused field and why: "port: must be between 1 and 65535".
        reasons = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail or f"Invalid request: {reasons}", errors=[msgspec.to_builtins(e) for e in errors])
        self.errors = errors


class Unauthorized(ProblemError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(ProblemError):
    status = 403
    code = "forbidden"
    title = "Not allowed for this API key"


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title = "Not found"


class PlanLimitReached(ProblemError):
    status = 402
    code = "plan_limit_reached"
    title = "Plan limit reached"

    def __init__(self, detail: str, *, scope: str, limit: int) -> None:
        super().__init__(detail, scope=scope, limit=limit)


class DuplicateProcess(ProblemError):
    status = 409
    code = "duplicate_process"
    title = "A process with this key already exists"


class DuplicateApplication(ProblemError):
    status = 409
    code = "duplicate_application"
    title = "An application with this name already exists"


class Conflict(ProblemError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(ProblemError):
    status = 412
    code = "precondition_failed"
    title = "The resource changed since it was read"


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class NotReady(ProblemError):
    status = 503
    code = "not_ready"
    title = "Not ready"
