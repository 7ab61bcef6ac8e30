"""Kubernetes leaves an optional field out rather than setting it to null."""

from __future__ import annotations

from typing import Any


def present(**fields: Any) -> dict[str, Any]:
    """The fields that have a value, in the order given (so rendered YAML reads as written)."""
    return {name: value for name, value in fields.items() if value is not None}
