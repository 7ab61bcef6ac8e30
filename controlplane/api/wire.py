"""The bases of every wire type. Requests decode strictly (unknown fields refused, no coercion);
ranges and cross-field rules live in the domain's validation, so every bad field is reported at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, TypeVar

import msgspec

from controlplane.domain.naming import timestamp


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    # True on a change that must name at least one field: the strict reader refuses one that names
    # none (`no_fields`), and the OpenAPI document says minProperties 1.
    names_a_field: ClassVar[bool] = False


class CamelRequest(Request, rename="camel"):
    pass


class Response(msgspec.Struct):
    pass


class Page(Response):
    total: int
    offset: int
    limit: int


class Message(Response):
    """What Sevalla answers for an action with nothing else to show: a sentence."""

    message: str


def limits(**schema: Any) -> msgspec.Meta:
    """Limits the OpenAPI document shows for a field (`max_length`, `minimum`, `pattern`...) without
    msgspec enforcing them at decode: the domain's validation enforces them, names every bad field
    at once and with procplane's codes (`too_long`, `out_of_range`), where msgspec would stop at
    the first in its own words."""
    return msgspec.Meta(extra_json_schema={"extra": schema})


def between(low: int, high: int) -> msgspec.Meta:
    return limits(minimum=low, maximum=high)


def text(low: int, high: int, pattern: str | None = None) -> msgspec.Meta:
    return limits(min_length=low, max_length=high, **({"pattern": pattern} if pattern else {}))


Out = TypeVar("Out", bound=Response)


def from_row(out_type: type[Out], row: object, **given: Any) -> Out:
    """A response struct from a stored row: each field the row has of the same name, times in the
    wire's one format; `given` supplies (or overrides) the rest."""
    values: dict[str, Any] = {}
    for name in out_type.__struct_fields__:
        value = given[name] if name in given else getattr(row, name)
        values[name] = timestamp(value) if isinstance(value, datetime) else value
    return out_type(**values)
