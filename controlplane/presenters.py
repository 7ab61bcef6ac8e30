"""Rows to wire types: timestamps, computed fields and names derived from the spec."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from controlplane import models, observed, schemas
from controlplane.settings import ResourceCategory


class Observation(msgspec.Struct, frozen=True):
    """What the observer recorded of one process, for its representation."""

    firing: tuple[str, ...] = ()
    last_sample: models.ProcessSample | None = None
    heartbeat: str | None = None


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`; SQLite hands back naive values, which are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def object_name(app: models.Application, key: str) -> str:
    return f"{app.name}-{key}"


def internal_hostname(app: models.Application, key: str, cluster_domain: str) -> str:
    return f"{object_name(app, key)}.{app.namespace}.svc.{cluster_domain}"


def etag(process: models.Process) -> str:
    return f'"{process.generation}"'


def application(app: models.Application) -> schemas.ApplicationOut:
    return schemas.ApplicationOut(
        id=app.id,
        name=app.name,
        display_name=app.display_name,
        namespace=app.namespace,
        image=app.image,
        created_at=timestamp(app.created_at),
        updated_at=timestamp(app.updated_at),
    )


def process(
    app: models.Application,
    row: models.Process,
    resource_type: models.ResourceType,
    status: models.ProcessStatus | None,
    cluster_domain: str,
    observation: Observation | None = None,
) -> schemas.ProcessOut:
    seen = observation or Observation()
    sample = seen.last_sample
    return schemas.ProcessOut(
        status=observed.presented_state(status.state if status else "pending", bool(seen.firing)),
        alerted_state=list(seen.firing),
        last_count=sample.count if sample else None,
        last_cpu_pct=sample.cpu_pct if sample else None,
        last_memory_pct=sample.memory_pct if sample else None,
        last_sample_at=timestamp(sample.recorded_at) if sample else None,
        heartbeat_status=seen.heartbeat,
        desired_instances=status.desired_instances if status else 0,
        ready_instances=status.ready_instances if status else 0,
        observed_generation=status.observed_generation if status else None,
        conditions=status.conditions if status else [],
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
        internal_hostname=internal_hostname(app, row.key, cluster_domain),
        generation=row.generation,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


def process_run(row: models.ProcessRun) -> schemas.ProcessRunOut:
    return schemas.ProcessRunOut(
        id=row.id,
        process_id=row.process_id,
        requested_by=row.requested_by,
        requested_at=timestamp(row.requested_at),
        job_name=row.job_name,
        started_at=optional_timestamp(row.started_at),
    )


def resource_type(row: models.ResourceType) -> schemas.ResourceTypeOut:
    return schemas.ResourceTypeOut(
        id=row.id,
        name=row.name,
        category=ResourceCategory(row.category),
        cpu_limit=row.cpu_limit,
        memory_limit=row.memory_limit,
    )


def api_key(row: models.ApiKey) -> schemas.ApiKeyOut:
    return schemas.ApiKeyOut(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.token_prefix,
        created_at=timestamp(row.created_at),
        last_used_at=optional_timestamp(row.last_used_at),
        revoked_at=optional_timestamp(row.revoked_at),
    )


# ---- observing what runs ----


def instance(row: models.ProcessInstance) -> schemas.InstanceOut:
    return schemas.InstanceOut(
        name=row.name,
        process_id=row.process_id,
        app_id=row.app_id,
        namespace=row.namespace,
        node=row.node,
        phase=row.phase,
        state=row.state,
        state_reason=row.state_reason,
        ready=row.ready,
        restarts=row.restarts,
        image=row.image,
        started_at=optional_timestamp(row.started_at),
        last_termination_reason=row.last_termination_reason,
        last_exit_code=row.last_exit_code,
        last_terminated_at=optional_timestamp(row.last_terminated_at),
        cpu_millicores=row.cpu_millicores,
        memory_bytes=row.memory_bytes,
        cpu_pct=row.cpu_pct,
        memory_pct=row.memory_pct,
        created_at=optional_timestamp(row.created_at),
        observed_at=timestamp(row.observed_at),
    )


def sample(row: models.ProcessSample) -> schemas.SampleOut:
    assert row.id is not None, "samples are read back from the database"
    return schemas.SampleOut(
        id=row.id,
        process_id=row.process_id,
        count=row.count,
        ready_count=row.ready_count,
        restarts=row.restarts,
        cpu_millicores=row.cpu_millicores,
        memory_bytes=row.memory_bytes,
        cpu_pct=row.cpu_pct,
        memory_pct=row.memory_pct,
        oldest_start_unix=row.oldest_start_unix,
        resolution_seconds=row.resolution_seconds,
        recorded_at=timestamp(row.recorded_at),
    )


def alert_rules(
    process_id: str,
    row: models.ProcessAlertRules | None,
    states: list[models.ProcessAlertState],
    *,
    show_secret: bool,
) -> schemas.AlertRulesOut:
    rules = row or models.ProcessAlertRules(process_id=process_id, webhook_secret="")
    return schemas.AlertRulesOut(
        process_id=process_id,
        alert_on_down=rules.alert_on_down,
        alert_on_restart=rules.alert_on_restart,
        alert_on_cpu=rules.alert_on_cpu,
        alert_on_memory=rules.alert_on_memory,
        cpu_threshold_pct=rules.cpu_threshold_pct,
        memory_threshold_pct=rules.memory_threshold_pct,
        webhook_url=rules.webhook_url,
        webhook_secret=rules.webhook_secret if show_secret and row is not None else None,
        alerted_state=[s.rule for s in states if s.firing],
        alerts=[
            schemas.AlertStateOut(rule=s.rule, firing=s.firing, message=s.message, since=timestamp(s.since))
            for s in states
        ],
        updated_at=timestamp(row.updated_at) if row is not None else None,
    )


def heartbeat(row: models.ProcessHeartbeat, now: datetime, token: str | None = None) -> schemas.HeartbeatOut:
    return schemas.HeartbeatOut(
        process_id=row.process_id,
        interval_seconds=row.interval_seconds,
        status=observed.heartbeat_status(row.status, row.next_heartbeat_at, now),
        last_heartbeat_at=timestamp(row.last_heartbeat_at),
        next_heartbeat_at=timestamp(row.next_heartbeat_at),
        token_prefix=row.token_prefix,
        created_at=timestamp(row.created_at),
        token=token,
    )


def webhook_delivery(row: models.WebhookDelivery) -> schemas.WebhookDeliveryOut:
    return schemas.WebhookDeliveryOut(
        id=row.id,
        process_id=row.process_id,
        event=row.event,
        rule=row.rule,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        payload=row.payload,
        created_at=timestamp(row.created_at),
        next_attempt_at=timestamp(row.next_attempt_at) if row.status == "pending" else None,
        delivered_at=optional_timestamp(row.delivered_at),
    )


def release(release: models.Release, jobs: list[models.ReleaseJob]) -> schemas.ReleaseOut:
    stamp = optional_timestamp
    return schemas.ReleaseOut(
        id=release.id,
        app_id=release.app_id,
        number=release.number,
        image=release.image,
        is_restart=release.is_restart,
        rollback_of=release.rollback_of,
        status=release.status,
        failure_reason=release.failure_reason,
        created_by=release.created_by,
        created_at=timestamp(release.created_at),
        pre_jobs_started_at=stamp(release.pre_jobs_started_at),
        rollout_started_at=stamp(release.rollout_started_at),
        post_jobs_started_at=stamp(release.post_jobs_started_at),
        finished_at=stamp(release.finished_at),
        jobs=[
            schemas.ReleaseJobOut(
                key=j.key,
                policy=j.policy,
                job_name=j.job_name,
                status=j.status,
                exit_code=j.exit_code,
                reason=j.reason,
                started_at=stamp(j.started_at),
                finished_at=stamp(j.finished_at),
            )
            for j in sorted(jobs, key=lambda j: (j.started_at is None, j.key))
        ],
        processes=release.snapshot,
    )
