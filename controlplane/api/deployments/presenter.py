"""Stored deployments to their wire form."""

from __future__ import annotations

from controlplane.api.deployments.schemas import ReleaseJobOut, ReleaseOut
from controlplane.api.wire import from_row
from controlplane.store import models


def release(release: models.Release, jobs: list[models.ReleaseJob]) -> ReleaseOut:
    ordered = sorted(jobs, key=lambda j: (j.started_at is None, j.key))
    return from_row(ReleaseOut, release, jobs=[from_row(ReleaseJobOut, j) for j in ordered], processes=release.snapshot)
