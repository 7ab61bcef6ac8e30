"""Sevalla's published OpenAPI for the process operations, as a response checker.

The document lives beside the checkout (`../shared/contracts/`), not in it: it is Sevalla's, and
procplane must answer as it says. Sevalla closes `Process` and `Error` with
`additionalProperties: false`; procplane adds top-level members to both (what runs; the RFC 9457
members), so those two are checked with extra top-level members allowed and everything else,
nested objects included, exactly as published."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "sevalla-v3-processes.openapi.yaml"
OPEN_AT_THE_TOP = ("Process", "Error")


@cache
def document() -> dict[str, Any]:
    assert CONTRACT.is_file(), f"Sevalla's contract is missing: expected it at {CONTRACT}"
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text())
    for name in OPEN_AT_THE_TOP:
        loaded["components"]["schemas"][name]["additionalProperties"] = True
    return loaded


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """The path, method and definition of one of Sevalla's operations."""
    for path, methods in document()["paths"].items():
        for method, definition in methods.items():
            if definition.get("operationId") == operation_id:
                return path, method, definition
    raise AssertionError(f"{operation_id} is not an operation of Sevalla's contract")


def assert_answers(operation_id: str, response: httpx.Response) -> Any:
    """The response's status is one the operation documents and its body validates against the
    schema documented for that status. Returns the decoded body."""
    _, _, definition = operation(operation_id)
    documented = definition["responses"]
    status = str(response.status_code)
    assert status in documented, f"{operation_id} documents {sorted(documented)}, got {status}: {response.text}"
    schema = copy.deepcopy(documented[status]["content"]["application/json"]["schema"])
    schema["components"] = document()["components"]
    body = response.json()
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{operation_id} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors
    )
    return body
