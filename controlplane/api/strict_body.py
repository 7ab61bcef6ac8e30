"""Request bodies decode without coercion. Litestar converts `data` in lax mode, where `"80"`
becomes `80` and `"true"` becomes `True`; the wire contract is strict, so a hook decodes the
body against the handler's `data` type first and reports the first wrong field the same way.
The same hook keeps NUL characters, which PostgreSQL cannot store, out of ids and bodies."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request

from controlplane.api.problems import field_error
from controlplane.domain import validation
from controlplane.domain.errors import FieldError, NotFound, ValidationFailed

_LOCATION = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)


def _location_key(path: str) -> str:
    return path.replace("[...]", "").lstrip(".")


async def decode_strictly(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: refuse a JSON body that only lax conversion would accept."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound(f"No {name.removesuffix('_id')} has an id with a NUL character")
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    body = await request.body()
    if not body.strip():
        if data.is_optional:
            return
        raise ValidationFailed([FieldError("body", "required", "send a JSON object")])
    try:
        msgspec.json.decode(body, type=data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        match = _LOCATION.match(str(exc))
        message, key = (match.group("message"), _location_key(match.group("path"))) if match else (str(exc), "")
        raise ValidationFailed([field_error({"message": message, "key": key})]) from exc
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own decoding reports it
    if errors := validation.nul_errors(msgspec.json.decode(body)):
        raise ValidationFailed(errors)
