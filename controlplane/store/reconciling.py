"""The reconciler's queries: the desired state of an application as domain types (each row is
converted to its domain type here, once), and the status and run bookkeeping it writes back."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from controlplane.domain import clock, spec, states
from controlplane.domain.desired import Desired, PendingRun
from controlplane.domain.observed import ObservedStatus
from controlplane.domain.release import JobRecord, ReleaseRecord, Step
from controlplane.store import models, repository


def scaling_of(stored: dict[str, Any]) -> spec.Scaling:
    if stored["type"] == "manual":
        return spec.ManualScaling(instance_count=stored["config"]["instanceCount"])
    # Stored as the client sent it: what it left out takes the defaults.
    config = {**spec.HORIZONTAL_DEFAULTS, **stored["config"]}
    return spec.HorizontalScaling(
        min_instance_count=config["minInstanceCount"],
        max_instance_count=config["maxInstanceCount"],
        target_cpu_percent=config.get("targetCpuPercent"),
        target_memory_percent=config.get("targetMemoryPercent"),
        scale_up_interval_seconds=config["scaleUpIntervalSeconds"],
        scale_down_interval_seconds=config["scaleDownIntervalSeconds"],
        scale_up_increment=config["scaleUpIncrement"],
        scale_down_increment=config["scaleDownIncrement"],
    )


def _stored_fields(row: SQLModel, struct_type: type[msgspec.Struct]) -> dict[str, Any]:
    """The row's columns that the domain type has under the same name. A column left empty is
    left out, so the domain's default applies (the ingress protocol, a finished job's TTL)."""
    names = (name for name in struct_type.__struct_fields__ if name in type(row).model_fields)
    return {name: value for name in names if (value := getattr(row, name)) is not None}


def process_spec(row: models.Process, resource_type: models.ResourceType) -> spec.ProcessSpec:
    scaling = scaling_of(row.scaling_strategy)
    # A cron or job process with 0 instances is paused: its CronJob is suspended.
    paused = row.type in ("cron", "job") and isinstance(scaling, spec.ManualScaling) and scaling.instance_count == 0
    given = {
        "type": row.type,
        "scaling": scaling,
        "resource_type_name": resource_type.name,
        "cpu_millicores": resource_type.cpu_limit,
        "memory_mb": resource_type.memory_limit,
        "suspended": paused,
        "job_backoff_limit": row.job_retries or 0,
    }
    return msgspec.convert(_stored_fields(row, spec.ProcessSpec) | given, spec.ProcessSpec)


async def application_ids(session: AsyncSession) -> list[str]:
    result = await session.execute(sa.select(col(models.Application.id)))
    return [str(row) for row in result.scalars().all()]


async def load(session: AsyncSession, app_id: str) -> Desired | None:
    app = await repository.get_application(session, app_id)
    if app is None:
        return None
    config_vars = await repository.config_vars(session, app_id)
    rows = await repository.processes_of(session, app_id)
    types = {t.id: t for t in await repository.resource_types(session, active_only=False)}
    runs = await session.execute(
        select(models.ProcessRun)
        .join(models.Process, col(models.Process.id) == col(models.ProcessRun.process_id))
        .where(col(models.Process.app_id) == app_id, col(models.ProcessRun.job_name).is_(None))
        .order_by(col(models.ProcessRun.requested_at))
    )
    return Desired(
        app=msgspec.convert(
            _stored_fields(app, spec.ApplicationSpec) | {"config_vars": config_vars}, spec.ApplicationSpec
        ),
        processes=[process_spec(row, types[row.resource_type_id]) for row in rows],
        pending_runs=[PendingRun(id=r.id, process_id=r.process_id) for r in runs.scalars().all()],
        release=await _active_release(session, app_id),
        cancelled_jobs=await _cancelled_jobs(session, app_id),
    )


async def record_status(session: AsyncSession, process_id: str, status: ObservedStatus) -> bool:
    """Store a process's status when it differs from what is stored; True when it did. An unknown
    observed generation leaves the stored one as it is."""
    values: dict[str, Any] = {
        "state": status.state,
        "desired_instances": status.desired_instances,
        "ready_instances": status.ready_instances,
        "conditions": msgspec.to_builtins(status.conditions),
    }
    if status.observed_generation is not None:
        values["observed_generation"] = status.observed_generation
    row = await session.get(models.ProcessStatus, process_id)
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return False
    if await session.get(models.Process, process_id) is None:
        return False  # deleted while we looked
    if row is None:
        row = models.ProcessStatus(process_id=process_id, **values, updated_at=clock.utcnow())
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = clock.utcnow()
    await session.commit()
    return True


async def mark_run_started(session: AsyncSession, run_id: str, job_name: str) -> None:
    run = await session.get(models.ProcessRun, run_id)
    if run is not None and run.job_name is None:
        run.job_name = job_name
        run.started_at = clock.utcnow()
        await session.commit()


async def save_release_step(
    session: AsyncSession,
    app_id: str,
    release: ReleaseRecord,
    result: Step,
    started_jobs: dict[str, str],
) -> None:
    """Store one step in one transaction: the status, finished and started Jobs, timestamps and, on
    success, the application's new current image. A release cancelled meanwhile stays cancelled."""
    # Claim the row at the status the step was computed from, in one statement: a cancel committed
    # before is seen here, and one sent after waits for this commit and then finds the release ended.
    claimed = await session.execute(
        sa.update(models.Release)
        .where(col(models.Release.id) == release.id, col(models.Release.status) == release.status)
        .values(status=col(models.Release.status))
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], claimed).rowcount != 1:
        await session.rollback()
        return
    row = await session.get(models.Release, release.id, populate_existing=True)
    assert row is not None, "claimed above"
    now = clock.utcnow()
    row.status, row.outcome = result.status, result.outcome
    if result.failure_reason:
        row.failure_reason = result.failure_reason
    for stamp in result.stamps:
        setattr(row, stamp, now)
    for update in result.job_updates:
        job = await session.get(models.ReleaseJob, (release.id, update.key))
        if job is not None:
            job.status, job.exit_code, job.reason, job.finished_at = (
                update.status,
                update.exit_code,
                update.reason,
                now,
            )
    for process, policy in result.start_jobs:
        if await session.get(models.ReleaseJob, (release.id, process.key)) is None:
            job_name = started_jobs[process.key]
            session.add(
                models.ReleaseJob(
                    release_id=release.id,
                    key=process.key,
                    policy=policy,
                    job_name=job_name,
                    status="running",
                    started_at=now,
                )
            )
    if result.promote:
        app = await session.get(models.Application, app_id)
        if app is not None:
            app.image = release.image
            if release.is_restart:
                app.restart_token = release.id
            app.updated_at = now
    await session.commit()


async def mark_jobs_cancelled(session: AsyncSession, job_names: tuple[str, ...]) -> None:
    result = await session.execute(
        select(models.ReleaseJob).where(
            col(models.ReleaseJob.job_name).in_(job_names), models.ReleaseJob.status == "running"
        )
    )
    for job in result.scalars().all():
        job.status, job.reason, job.finished_at = "cancelled", "the release was cancelled", clock.utcnow()
    await session.commit()


def _release_record(release: models.Release, jobs: list[models.ReleaseJob]) -> ReleaseRecord:
    record = msgspec.convert(release, ReleaseRecord, from_attributes=True)
    return msgspec.structs.replace(
        record, jobs=tuple(msgspec.convert(j, JobRecord, from_attributes=True) for j in jobs)
    )


async def _active_release(session: AsyncSession, app_id: str) -> ReleaseRecord | None:
    release = await repository.active_release(session, app_id)
    if release is None:
        return None
    return _release_record(release, (await repository.release_jobs(session, [release.id]))[release.id])


async def _cancelled_jobs(session: AsyncSession, app_id: str) -> tuple[str, ...]:
    result = await session.execute(
        select(models.ReleaseJob)
        .join(models.Release, col(models.Release.id) == col(models.ReleaseJob.release_id))
        .where(
            models.Release.app_id == app_id,
            models.Release.status == states.ReleaseStatus.CANCELLED,
            models.ReleaseJob.status == "running",
        )
    )
    return tuple(job.job_name for job in result.scalars().all())
