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
from itertools import accumulate
from typing import Any

import msgspec
from litestar import Request

from controlplane.api.problems import field_error
from controlplane.domain import validation
from controlplane.domain.errors import FieldError, NotFound, UnsupportedMediaType, ValidationFailed

# A request body larger than this is refused with 413 before it is read in full.
MAX_BODY_BYTES = 1024 * 1024
# Far deeper and larger than any procplane document (a probe's HTTP header is 4 levels down),
# small enough that decoding a refused body costs next to nothing.
MAX_JSON_DEPTH = 32
MAX_JSON_CONTAINERS = 10_000

_LOCATION = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# An opening bracket becomes the signed byte 1, a closing one -1 (0xff).
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def is_json(media_type: str) -> bool:
    """`application/json`, or a JSON-based type such as `application/merge-patch+json`."""
    kind = media_type.strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _shape(body: bytes) -> tuple[int, int]:
    """How many objects and arrays `body` holds and how deep it nests, without decoding it:
    strings dropped, only brackets kept, counted in C with no recursion. For malformed JSON the
    depth may be overcounted, never under: a decoder stops at the first bracket closed too many."""
    openings = body.count(b"[") + body.count(b"{")
    if openings <= MAX_JSON_DEPTH:  # the common case: too few brackets to nest too deep
        return openings, openings
    # Escaped backslashes, then escaped quotes, go first; every other quote opens or closes a string.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    brackets = outside_strings.translate(_BRACKET_STEPS, _NOT_BRACKETS)
    containers = brackets.count(b"\x01")
    if containers > MAX_JSON_CONTAINERS:
        return containers, 0  # refused for its size before its depth is worth counting
    return containers, max(accumulate(memoryview(brackets).cast("b")), default=0)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)


def parse_json(body: bytes, field: str = "body", into: Any = Any) -> Any:
    """The document in `body`, decoded strictly into `into` (any JSON value by default), or a
    refusal naming `field` (the body, or the upload it holds). One decode: the type's own."""
    containers, depth = _shape(body)
    if containers > MAX_JSON_CONTAINERS:
        message = f"must hold at most {MAX_JSON_CONTAINERS} objects and arrays"
        raise ValidationFailed([FieldError(field, "too_many", message)])
    if depth > MAX_JSON_DEPTH:
        raise ValidationFailed([FieldError(field, "too_deep", f"must nest at most {MAX_JSON_DEPTH} levels")])
    try:
        document = msgspec.json.decode(body, type=into, strict=True)
    except msgspec.ValidationError as exc:  # well-formed JSON, not of the type (a DecodeError too)
        match = _LOCATION.match(str(exc))
        message, key = (match.group("message"), _location_key(match.group("path"))) if match else (str(exc), "")
        raise ValidationFailed([field_error({"message": message, "key": key})]) from exc
    except msgspec.DecodeError as exc:
        raise ValidationFailed([FieldError(field, "invalid_json", str(exc))]) from exc
    except RecursionError as exc:  # only malformed JSON can nest deeper than it was counted
        raise ValidationFailed([FieldError(field, "too_deep", f"must nest at most {MAX_JSON_DEPTH} levels")]) from exc
    if b"{" in body:
        # msgspec keeps the last of two equal keys; the standard parser reports each object's pairs.
        try:
            json.loads(body, object_pairs_hook=_refuse_duplicates)
        except _DuplicateKey as exc:
            raise ValidationFailed(
                [FieldError(exc.key, "duplicate_key", "is given more than once in the same object")]
            ) from exc
    # JSON writes a NUL only as an escape; without one there is nothing to look for. With one, the
    # walk reads the document as sent (field names, not a typed value), decoded for it alone.
    if b"\\u0000" in body and (errors := validation.nul_errors(msgspec.json.decode(body))):
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
    document = parse_json(body, into=data.annotation)
    if getattr(data.annotation, "names_a_field", False) and all(
        getattr(document, name) is msgspec.UNSET for name in document.__struct_fields__
    ):
        raise ValidationFailed([FieldError("body", "no_fields", "name at least one field to change")])
