"""Is a live object already what we would apply? (pure)

A pass compares each desired manifest with the cached live object and applies only where they
differ, so a pass over a converged application sends no write at all. The live object carries
more than we declared (defaults, status, other managers' fields), so the test is containment:
every field we declare must hold the value we declare."""

from __future__ import annotations

from typing import Any


def _empty(value: Any) -> bool:
    # The apiserver drops empty maps and lists from what it stores.
    return value is None or value == {} or value == []


def contains(live: Any, desired: Any) -> bool:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return _empty(desired) and live is None
        return all(contains(live[key], value) if key in live else _empty(value) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return _empty(desired) and live is None
        return len(live) == len(desired) and all(contains(a, b) for a, b in zip(live, desired, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return live is desired
    if isinstance(desired, int | float) and isinstance(live, int | float):
        return float(live) == float(desired)
    return bool(live == desired)


def needs_apply(desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    if live is None:
        return True
    declared = {key: value for key, value in desired.items() if key not in ("apiVersion", "kind", "status")}
    return not contains(live, declared)
