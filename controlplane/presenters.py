"""Rows to wire types: timestamps, computed fields and names derived from the spec."""

from __future__ import annotations

from datetime import UTC, datetime

from controlplane import models, schemas


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
) -> schemas.ProcessOut:
    return schemas.ProcessOut(
        status=status.state if status else "pending",
        desired_instances=status.desired_instances if status else 0,
        ready_instances=status.ready_instances if status else 0,
        observed_generation=status.observed_generation if status else None,
        conditions=status.conditions if status else [],
        id=row.id,
        app_id=row.app_id,
        key=row.key,
        type=row.type,
        display_name=row.display_name,
        entrypoint=row.entrypoint,
        port=row.port,
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
        id=row.id, name=row.name, category=row.category, cpu_limit=row.cpu_limit, memory_limit=row.memory_limit
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
