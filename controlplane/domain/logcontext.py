"""Fields every log line of one unit of work carries: a request's id and API key name, the
application a reconcile pass is about. They are bound where the work starts (the API's request
wrapper, the reconciler's worker) and read by the log formatter (`procplane.logs`), so the code in
between logs plain messages and still gets them.

A ContextVar: each asyncio task, and each thread `asyncio.to_thread` starts, works on its own copy,
so concurrent requests and passes never see each other's fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})
# Replaced, never mutated: a copy of the context keeps the fields it was made with.
_fields: ContextVar[Mapping[str, object]] = ContextVar("procplane_log_fields", default=_EMPTY)

LogToken = Token[Mapping[str, object]]


def bind(**fields: object) -> LogToken:
    """Add `fields` to every line logged from here on in this context; `reset` undoes it."""
    return _fields.set(MappingProxyType({**_fields.get(), **fields}))


def reset(token: LogToken) -> None:
    _fields.reset(token)


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def current() -> Mapping[str, object]:
    return _fields.get()
