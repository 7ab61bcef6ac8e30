"""Query windows, cursors and metric series (pure).

Times in queries are Unix seconds or ISO 8601 between the Unix epoch and the start of the year
9999 (so a window's span added to either end stays a representable time); a window given by one
end spans 15 minutes from it. Cursors are opaque to clients: the sort key of the
last row returned, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from controlplane.domain import observed
from controlplane.domain.errors import FieldError
from controlplane.store import models

DEFAULT_SPAN = timedelta(minutes=15)
MAX_POINTS = 1500
# Each series and its unit. A limit series is the resource type's limit times the instances
# observed, in the unit of its usage series, so the two chart on one axis.
METRICS = {
    "cpu-usage": "millicores",
    "cpu-limit": "millicores",
    "memory-usage": "bytes",
    "memory-limit": "bytes",
    "instance-count": "instances",
}
BYTES_PER_MEGABYTE = 1024 * 1024
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class Limits(NamedTuple):
    """One instance's limits: its resource type's CPU (millicores) and memory (megabytes)."""

    cpu_millicores: int
    memory_megabytes: int


def parse_time(field: str, raw: str) -> datetime | FieldError:
    text = raw.strip()
    try:
        if text.lstrip("-").isdigit():
            moment = datetime.fromtimestamp(int(text), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return FieldError(field, "invalid_time", "must be Unix seconds or an ISO 8601 timestamp")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # Compared before any arithmetic: an aware comparison never overflows, a conversion may.
    if not EARLIEST <= moment <= LATEST:
        return FieldError(field, "out_of_range", "must be between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def window(
    raw_from: str | None, raw_to: str | None, now: datetime, default_span: timedelta = DEFAULT_SPAN
) -> tuple[datetime, datetime] | list[FieldError]:
    """[from, to]: both given, one given (the other 15 minutes away), or the span up to now."""
    errors: list[FieldError] = []
    start = parse_time("from", raw_from) if raw_from is not None else None
    end = parse_time("to", raw_to) if raw_to is not None else None
    errors += [e for e in (start, end) if isinstance(e, FieldError)]
    if errors:
        return errors
    assert not isinstance(start, FieldError)
    assert not isinstance(end, FieldError)
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - default_span
    if end is None:
        end = start + default_span
    if start > end:
        return [FieldError("from", "invalid_range", "must not be after 'to'")]
    return start, end


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([observed.aware(created_at).isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | FieldError:
    error = FieldError("page[cursor]", "invalid_cursor", "use the value of meta.page.after from the previous page")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        return error
    # A NUL in the id would reach PostgreSQL, which cannot compare it.
    if not isinstance(row_id, str) or "\x00" in row_id or moment.tzinfo is None:
        return error
    return moment, row_id


def _value(metric: str, sample: models.ProcessSample, limits: Limits) -> float | None:
    if metric == "cpu-usage":
        return sample.cpu_millicores
    if metric == "memory-usage":
        return float(sample.memory_bytes) if sample.memory_bytes is not None else None
    if metric == "cpu-limit":
        return float(limits.cpu_millicores * sample.count)
    if metric == "memory-limit":
        return float(limits.memory_megabytes * BYTES_PER_MEGABYTE * sample.count)
    return float(sample.count)


def series(
    metric: str,
    samples: Sequence[models.ProcessSample],
    start: datetime,
    end: datetime,
    interval: int,
    limits: Limits,
) -> list[tuple[datetime, float]]:
    """One point per interval from `start` (aligned down to the interval) to `end` holding a
    sample: the mean of the samples recorded in it. An interval without one has no point."""
    first = int(start.timestamp()) // interval * interval
    last = int(end.timestamp())
    buckets: dict[int, list[float]] = {}
    for sample in samples:
        value = _value(metric, sample, limits)
        if value is None:
            continue
        at = int(observed.aware(sample.recorded_at).timestamp())
        buckets.setdefault((at - first) // interval, []).append(value)
    points = []
    for index, moment in enumerate(range(first, last + 1, interval)):
        if values := buckets.get(index):
            points.append((datetime.fromtimestamp(moment, UTC), round(sum(values) / len(values), 3)))
    return points


def point_count(start: datetime, end: datetime, interval: int) -> int:
    first = int(start.timestamp()) // interval * interval
    return (int(end.timestamp()) - first) // interval + 1
