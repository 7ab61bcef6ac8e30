"""What one application should look like in the cluster, as a reconcile pass reads it: its spec,
its processes, the cron runs asked for, and the release in progress."""

from __future__ import annotations

import msgspec

from controlplane.domain import spec
from controlplane.domain.release import ReleaseRecord


class PendingRun(msgspec.Struct, frozen=True):
    """A "run now" request for a cron process that has no Job yet."""

    id: str
    process_id: str


class Desired(msgspec.Struct, frozen=True):
    app: spec.ApplicationSpec
    processes: list[spec.ProcessSpec]
    pending_runs: list[PendingRun]
    release: ReleaseRecord | None = None
    # Jobs of cancelled releases that may still run: the pass deletes them.
    cancelled_jobs: tuple[str, ...] = ()
