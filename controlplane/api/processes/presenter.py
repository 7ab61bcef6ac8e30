"""Stored processes to their wire form."""

from __future__ import annotations

from datetime import datetime

from controlplane.api.processes.schemas import ConditionOut, ProcessOut, ProcessRunOut
from controlplane.domain import observed, states
from controlplane.domain.naming import internal_hostname, optional_timestamp, timestamp
from controlplane.domain.observed import Condition
from controlplane.store import models, repository


def etag(process: models.Process) -> str:
    return f'"{process.generation}"'


def condition(stored: Condition) -> ConditionOut:
    """A condition with its time as every API time is written (the cluster's has whole seconds)."""
    return ConditionOut(
        type=stored.type,
        status=stored.status,
        reason=stored.reason,
        message=stored.message,
        last_transition_time=timestamp(datetime.fromisoformat(stored.last_transition_time)),
        observed_generation=stored.observed_generation,
    )


def process(
    app: models.Application,
    row: models.Process,
    readings: repository.ProcessReadings,
    cluster_domain: str,
    now: datetime,
) -> ProcessOut:
    resource_type, status, sample, beat = (
        readings.resource_type,
        readings.status,
        readings.last_sample,
        readings.heartbeat,
    )
    return ProcessOut(
        status=observed.presented_state(
            status.state if status else states.ProcessStatus.PENDING, bool(readings.firing)
        ),
        alerted_state=list(readings.firing),
        last_count=sample.count if sample else None,
        last_cpu_pct=sample.cpu_pct if sample else None,
        last_memory_pct=sample.memory_pct if sample else None,
        last_sample_at=timestamp(sample.recorded_at) if sample else None,
        heartbeat_status=observed.heartbeat_status(beat.status, beat.next_heartbeat_at, now) if beat else None,
        desired_instances=status.desired_instances if status else 0,
        ready_instances=status.ready_instances if status else 0,
        observed_generation=status.observed_generation if status else None,
        conditions=[condition(c) for c in status.conditions] if status else [],
        id=row.id,
        app_id=row.app_id,
        key=row.key,
        type=row.type,
        display_name=row.display_name,
        # Sevalla's clients read a string: "" when the image's own command runs.
        entrypoint=row.entrypoint or "",
        port=row.port if row.type == "web" else None,
        is_ingress_enabled=row.is_ingress_enabled,
        ingress_protocol=row.ingress_protocol,
        scaling_strategy=row.scaling_strategy,
        resource_type_id=resource_type.id,
        resource_type_name=resource_type.name,
        cpu_limit=resource_type.cpu_limit,
        memory_limit=resource_type.memory_limit,
        schedule=row.schedule,
        time_zone=row.time_zone,
        job_start_policy=row.job_start_policy,
        liveness_probe=row.liveness_probe,
        readiness_probe=row.readiness_probe,
        job_timeout_seconds=row.job_timeout_seconds,
        job_retries=row.job_retries,
        job_ttl_seconds=row.job_ttl_seconds,
        internal_hostname=internal_hostname(app.name, app.namespace, row.key, cluster_domain),
        generation=row.generation,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


def process_run(row: models.ProcessRun) -> ProcessRunOut:
    return ProcessRunOut(
        id=row.id,
        process_id=row.process_id,
        requested_by=row.requested_by,
        requested_at=timestamp(row.requested_at),
        job_name=row.job_name,
        started_at=optional_timestamp(row.started_at),
    )
