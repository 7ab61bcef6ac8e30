"""The one way a request's input is read before its handler runs: every JSON body (and the
app.json of a Procfile upload) is parsed by `parse_json`, every route passes `decode_strictly`.

Litestar converts `data` in lax mode, where `"80"` becomes `80` and `"true"` becomes `True`; the
wire contract is strict, so the hook decodes the body against the handler's `data` type first and
reports the first wrong field the same way. It also refuses what would only fail deeper down: a
body that is not declared as JSON, nesting deep enough to exhaust the decoder's recursion, keys
given twice (which a decoder would silently resolve to the last), and NUL characters, which
PostgreSQL cannot store or compare, in ids, query parameters and bodies."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request

from controlplane.api.problems import field_error
from controlplane.domain import validation
from controlplane.domain.errors import FieldError, NotFound, UnsupportedMediaType, ValidationFailed

# A request body larger than this is refused with 413 before it is read in full.
MAX_BODY_BYTES = 1024 * 1024
# Far deeper than any procplane document (a probe's HTTP header is 4 levels down).
MAX_JSON_DEPTH = 32

_LOCATION = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def is_json(media_type: str) -> bool:
    """`application/json`, or a JSON-based type such as `application/merge-patch+json`."""
    kind = media_type.strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Strings dropped, only brackets kept, each pass removes the innermost pairs: a document
    nested `limit` deep is empty after `limit` passes. Linear passes in C, no recursion."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        brackets, removed = _INNERMOST_PAIR.subn(b"", brackets)
        if not brackets or not removed:
            return False  # flat enough, or unbalanced, which the decoder reports as malformed
    return bool(brackets)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)


def parse_json(body: bytes, field: str = "body") -> Any:
    """The document in `body`, or a refusal naming `field` (the body, or the upload it holds)."""
    if _nested_deeper_than(body, MAX_JSON_DEPTH):
        raise ValidationFailed([FieldError(field, "too_deep", f"must nest at most {MAX_JSON_DEPTH} levels")])
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationFailed([FieldError(field, "invalid_json", str(exc))]) from exc
    if b"{" in body:
        # msgspec keeps the last of two equal keys; the standard parser reports each object's pairs.
        try:
            json.loads(body, object_pairs_hook=_refuse_duplicates)
        except _DuplicateKey as exc:
            raise ValidationFailed(
                [FieldError(exc.key, "duplicate_key", "is given more than once in the same object")]
            ) from exc
    if errors := validation.nul_errors(document):
        raise ValidationFailed(errors)
    return document


def _location_key(path: str) -> str:
    return path.replace("[...]", "").lstrip(".")


def _refuse_nul_parameters(request: Request[Any, Any, Any]) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound(f"No {name.removesuffix('_id')} has an id with a NUL character")
    errors = [
        FieldError(name, "invalid_character", "must not contain NUL characters")
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    if errors:
        raise ValidationFailed(errors)


async def decode_strictly(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook of every route: refuse input only lax conversion would accept,
    and input that would fail in the database rather than here."""
    _refuse_nul_parameters(request)
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    body = await request.body()
    if not body.strip():
        if data.is_optional:
            return
        raise ValidationFailed([FieldError("body", "required", "send a JSON object")])
    if not is_json(request.content_type[0]):
        raise UnsupportedMediaType("Send the request body as application/json")
    parse_json(body)
    try:
        msgspec.json.decode(body, type=data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        match = _LOCATION.match(str(exc))
        message, key = (match.group("message"), _location_key(match.group("path"))) if match else (str(exc), "")
        raise ValidationFailed([field_error({"message": message, "key": key})]) from exc
