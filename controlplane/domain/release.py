"""A release as the reconciler sees it (pure data): its record, its jobs, and the step a pass
decides. The store reads and writes these; `reconciler.converge.releases` computes the steps."""

from __future__ import annotations

import msgspec

from controlplane.domain import spec


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    policy: str
    job_name: str
    status: str  # running | succeeded | failed
    exit_code: int | None = None
    reason: str | None = None


class ReleaseRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    number: int
    image: str
    is_restart: bool
    rollback_of: str | None
    status: str
    outcome: str | None
    jobs: tuple[JobRecord, ...] = ()


class Step(msgspec.Struct, kw_only=True):
    """What a pass decided; the runner stores it. Timestamps are named, the clock is the caller's."""

    status: str
    outcome: str | None
    failure_reason: str | None = None
    start_jobs: list[tuple[spec.ProcessSpec, str]] = msgspec.field(default_factory=list)
    job_updates: list[JobRecord] = msgspec.field(default_factory=list)
    stamps: list[str] = msgspec.field(default_factory=list)
    # On success the application's current image (and restart token) become the release's.
    promote: bool = False

    def changed(self, release: ReleaseRecord) -> bool:
        return bool(self.status != release.status or self.start_jobs or self.job_updates or self.promote or self.stamps)
