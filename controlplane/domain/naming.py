"""Names both halves derive from a spec, and the one timestamp format of the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`; SQLite hands back naive values, which are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def object_name(app_name: str, key: str) -> str:
    """The name of a process's objects in its application's namespace."""
    return f"{app_name}-{key}"


def internal_hostname(app_name: str, namespace: str, key: str, cluster_domain: str) -> str:
    return f"{object_name(app_name, key)}.{namespace}.svc.{cluster_domain}"


def camel_case(snake: str) -> str:
    """`scale_up_interval_seconds` → `scaleUpIntervalSeconds`, as Sevalla's wire and Kubernetes write names."""
    first, *rest = snake.split("_")
    return first + "".join(word.capitalize() for word in rest)
