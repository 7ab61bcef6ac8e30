"""The one JSON reader of request bodies (pure): nesting, duplicate keys, NUL characters."""

from __future__ import annotations

import pytest

from controlplane.api.strict_body import MAX_JSON_CONTAINERS, MAX_JSON_DEPTH, is_json, parse_json
from controlplane.domain.errors import ValidationFailed


def refused(body: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_json(body)
    return [(e.field, e.code) for e in caught.value.errors]


def test_nesting_is_counted_outside_strings_only() -> None:
    assert parse_json(b'{"a": "' + b"[{" * 1000 + b'"}') == {"a": "[{" * 1000}
    escaped = b'{"a": "\\"[[[[\\\\", "b": [[1]]}'
    assert parse_json(escaped) == {"a": '"[[[[\\', "b": [[1]]}
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(at_limit) is not None
    over = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    assert refused(over) == [("body", "too_deep")]
    assert refused(b'{"a":' * 5000 + b"1" + b"}" * 5000) == [("body", "too_deep")]


def test_objects_and_arrays_are_bounded_in_number() -> None:
    most = b"[" + b"{}," * (MAX_JSON_CONTAINERS - 2) + b"{}]"
    assert len(parse_json(most)) == MAX_JSON_CONTAINERS - 1
    assert refused(b"[" + b"{}," * MAX_JSON_CONTAINERS + b"{}]") == [("body", "too_many")]
    # Brackets inside strings are text, not containers.
    assert parse_json(b'["' + b"[" * (MAX_JSON_CONTAINERS * 2) + b'"]') is not None


def test_malformed_json_is_reported_as_such() -> None:
    assert refused(b"[[[}") == [("body", "invalid_json")]
    assert refused(b'{"a": "unterminated') == [("body", "invalid_json")]


def test_a_key_given_twice_is_named() -> None:
    assert refused(b'{"a": 1, "b": {"c": 1, "c": 2}}') == [("c", "duplicate_key")]
    assert parse_json(b'[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]


def test_nul_characters_are_refused_where_they_are() -> None:
    assert refused(b'{"a": ["x", "\\u0000"]}') == [("a[1]", "invalid_character")]


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("", False),
        ("text/json+xml", False),
        ("application/jsonp", False),
    ],
)
def test_what_counts_as_json(media_type: str, expected: bool) -> None:
    assert is_json(media_type) is expected
