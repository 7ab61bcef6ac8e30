"""The one place errors become HTTP problems (RFC 9457)."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError

from controlplane.domain.errors import (
    Conflict,
    DomainError,
    DuplicateApplication,
    DuplicateProcess,
    DuplicateTeam,
    FieldError,
    Forbidden,
    NotFound,
    NotReady,
    PlanLimitReached,
    PreconditionFailed,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from controlplane.store import db

logger = logging.getLogger("procplane.api")

PROBLEM_JSON = "application/problem+json"
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ProblemData(msgspec.Struct):
    """The `data` member Sevalla's clients read: the code and the sentence again."""

    code: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """The body of every refusal, as the OpenAPI document shows it (`_problem` writes it): RFC 9457
    members, the stable `code`, per-field `errors`, Sevalla's `message` and `data`, and the members
    some refusals add (the conflicting `field`, a plan limit's `scope` and `limit`, the deployment
    still running)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    message: str
    data: ProblemData
    errors: list[FieldError] | msgspec.UnsetType = msgspec.UNSET
    field: str | msgspec.UnsetType = msgspec.UNSET
    scope: str | msgspec.UnsetType = msgspec.UNSET
    limit: int | msgspec.UnsetType = msgspec.UNSET
    running_deployment_id: str | msgspec.UnsetType = msgspec.UNSET


# The one place a domain error gets its HTTP status; any other is a 500.
HTTP_STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 400,
    Unauthorized: 401,
    PlanLimitReached: 402,
    Forbidden: 403,
    NotFound: 404,
    DuplicateProcess: 409,
    DuplicateApplication: 409,
    DuplicateTeam: 409,
    Conflict: 409,
    PreconditionFailed: 412,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    NotReady: 503,
    ServiceUnavailable: 503,
}


def _problem(
    status: int, code: str, title: str, detail: str, extra: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    """RFC 9457 members, plus `message` and `data` in the shape Sevalla's clients read."""
    body = {
        "type": f"https://procplane.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "message": detail,
        "data": {"code": code, "message": detail},
        **extra,
    }
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _headers_of(error: DomainError) -> dict[str, str]:
    """A refusal that says when to retry says it in `Retry-After` too (whole seconds), and a rate
    limit announces itself in the RateLimit-* headers every answer within the limit carries."""
    headers = {}
    if isinstance(retry_after := error.extra.get("retry_after"), int):
        headers["Retry-After"] = str(retry_after)
    if isinstance(error, RateLimited):
        headers |= {
            "RateLimit-Limit": str(error.extra["limit"]),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(error.extra["retry_after"]),
        }
    return headers


def problem_response(error: DomainError, headers: dict[str, str] | None = None) -> Response[Any]:
    status = next((HTTP_STATUS[kind] for kind in type(error).__mro__ if kind in HTTP_STATUS), None)
    if status is None:  # no refusal, a failure: it says nothing of itself
        return _problem(HTTP_500_INTERNAL_SERVER_ERROR, DomainError.code, DomainError.title, DomainError.title, {})
    return _problem(status, error.code, error.title, error.detail, error.extra, _headers_of(error) | (headers or {}))


def _join(parent: str, child: str) -> str:
    return child if parent in ("", "data", "body") else f"{parent}.{child}"


def field_error(item: dict[str, Any]) -> FieldError:
    """Translate one decoding complaint into procplane's field error vocabulary."""
    message = str(item.get("message", "invalid"))
    key = str(item.get("key") or "body").replace("[...]", "")
    if match := _UNKNOWN_FIELD.match(message):
        return FieldError(_join(key, match.group(1)), "unknown_field", "is not a field of this request")
    if match := _MISSING_FIELD.match(message):
        return FieldError(_join(key, match.group(1)), "required", "is required")
    if message.startswith("Invalid enum value") or message.startswith("Invalid value"):
        return FieldError(key, "invalid_choice", message)
    if message.startswith("Expected"):
        return FieldError(key, "invalid_type", message)
    return FieldError(key, "invalid", message)


def on_validation_exception(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    items = exc.extra if isinstance(exc.extra, list) else []
    errors = [field_error(item) for item in items if isinstance(item, dict)]
    if not errors:
        errors = [FieldError("body", "invalid_json", str(exc.detail))]
    return problem_response(ValidationFailed(errors))


def on_problem(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return problem_response(exc)


def on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        return on_unexpected(request, exc)
    if exc.status_code == 400:
        return problem_response(ValidationFailed([FieldError("body", "invalid_json", str(exc.detail))]))
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    return _problem(exc.status_code, code, str(exc.detail), str(exc.detail), {}, exc.headers)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or while handling, innermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain[::-1]


def _log_unexpected(request: Request[Any, Any, Any], exc: Exception) -> None:
    """Log the failure for the operator. A database error's message quotes what it refused (the
    parameters of the statement; PostgreSQL's DETAIL repeats the failing row, config var values
    included), so where one is involved only the kinds of errors, the statement (its parameters
    are never rendered: the engine hides them) and the stack are logged, never a message."""
    chain = _chain(exc)
    if not any(isinstance(error, DBAPIError) for error in chain):
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return
    lines = []
    for error in chain:
        lines.append("".join(traceback.format_tb(error.__traceback__)))
        kind = type(error).__name__
        if isinstance(error, DBAPIError):
            sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "sqlite_errorname", None)
            kind += f" ({type(error.orig).__name__}, {sqlstate}) in statement: {error.statement}"
        lines.append(kind + " (message withheld: it may hold request data)")
    logger.error("database error on %s %s\n%s", request.method, request.url.path, "\n".join(lines))


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Any failure that is no refusal: logged here, answered with nothing of its own text."""
    if (busy := db.unavailable(exc)) is not None:
        logger.warning("%s %s refused: %s", request.method, request.url.path, type(busy).__name__)
        return problem_response(busy)
    _log_unexpected(request, exc)
    return _problem(HTTP_500_INTERNAL_SERVER_ERROR, DomainError.code, DomainError.title, DomainError.title, {})


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: on_problem,
    ValidationException: on_validation_exception,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
