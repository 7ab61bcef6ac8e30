"""Stored deployments to their wire form."""

from __future__ import annotations

from controlplane.api.deployments.schemas import ReleaseJobOut, ReleaseOut
from controlplane.domain.naming import optional_timestamp, timestamp
from controlplane.store import models


def release(release: models.Release, jobs: list[models.ReleaseJob]) -> ReleaseOut:
    stamp = optional_timestamp
    return ReleaseOut(
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
            ReleaseJobOut(
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
