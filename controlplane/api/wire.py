"""The bases of every wire type. Requests decode strictly (unknown fields refused, no coercion);
ranges and cross-field rules live in the domain's validation, so every bad field is reported at once."""

from __future__ import annotations

import msgspec


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


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
