"""A process spec with every required field filled in, for tests that vary one or two of them."""

from __future__ import annotations

from typing import Any

from controlplane.domain import spec, states

APP_ID = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f"
PROCESS_ID = "3c0e5a7b-1d2f-4e6a-9b8c-7d6e5f4a3b2c"


def process_spec(key: str, type_: str, **overrides: Any) -> spec.ProcessSpec:
    fields: dict[str, Any] = {
        "id": PROCESS_ID,
        "app_id": APP_ID,
        "key": key,
        "type": states.ProcessType(type_),
        "display_name": key.title(),
        "resource_type_name": "s1",
        "cpu_millicores": 500,
        "memory_mb": 512,
    }
    fields.update(overrides)
    return spec.ProcessSpec(**fields)
