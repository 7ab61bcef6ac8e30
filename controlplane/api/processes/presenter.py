"""Stored processes to their wire form."""

from __future__ import annotations

from datetime import datetime

from controlplane.api.processes.schemas import ConditionOut, ProcessOut, ProcessRunOut
from controlplane.api.wire import from_row
from controlplane.domain import observed, states
from controlplane.domain.naming import internal_hostname, timestamp
from controlplane.domain.observed import Condition
from controlplane.store import models, repository


def etag(process: models.Process) -> str:
    return f'"{process.generation}"'


def strong_etags(header: str) -> list[str]:
    """The strong entity-tags an `If-Match` lists. If-Match compares strongly (RFC 9110 13.1.1):
    a weak tag (`W/"3"`) never matches, nor does anything that is no quoted tag."""
    tags = (tag.strip() for tag in header.split(","))
    return [tag for tag in tags if len(tag) >= 2 and tag[0] == tag[-1] == '"']


def condition(stored: Condition) -> ConditionOut:
    """A condition with its time as every API time is written (the cluster's has whole seconds)."""
    return from_row(
        ConditionOut, stored, last_transition_time=timestamp(datetime.fromisoformat(stored.last_transition_time))
    )


def process(
    app: models.Application,
    row: models.Process,
    readings: repository.ProcessReadings,
    cluster_domain: str,
    now: datetime,
) -> ProcessOut:
    """The spec as stored, its machine size, and what the reconciler and the observer recorded."""
    resource_type, status, sample, beat = (
        readings.resource_type,
        readings.status,
        readings.last_sample,
        readings.heartbeat,
    )
    state = status.state if status else states.ProcessStatus.PENDING
    return from_row(
        ProcessOut,
        row,
        entrypoint=row.entrypoint or "",
        port=row.port if row.type == states.ProcessType.WEB else None,
        resource_type_id=resource_type.id,
        resource_type_name=resource_type.name,
        cpu_limit=resource_type.cpu_limit,
        memory_limit=resource_type.memory_limit,
        internal_hostname=internal_hostname(app.name, app.namespace, row.key, cluster_domain),
        status=observed.presented_state(state, bool(readings.firing)),
        desired_instances=status.desired_instances if status else 0,
        ready_instances=status.ready_instances if status else 0,
        observed_generation=status.observed_generation if status else None,
        conditions=[condition(c) for c in status.conditions] if status else [],
        alerted_state=list(readings.firing),
        last_count=sample.count if sample else None,
        last_cpu_pct=sample.cpu_pct if sample else None,
        last_memory_pct=sample.memory_pct if sample else None,
        last_sample_at=sample.recorded_at if sample else None,
        heartbeat_status=observed.heartbeat_status(beat.status, beat.next_heartbeat_at, now) if beat else None,
    )


def process_run(row: models.ProcessRun) -> ProcessRunOut:
    return from_row(ProcessRunOut, row)
