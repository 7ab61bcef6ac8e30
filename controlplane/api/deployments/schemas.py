"""Wire types of deployments."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType

from controlplane.api.applications.schemas import Image
from controlplane.api.wire import Page, Request, Response


class DeploymentCreate(Request, kw_only=True):
    image: Image | UnsetType = UNSET
    # Roll every pod again with the current image (and config), without a new image.
    is_restart: bool = False


class RollbackCreate(Request, kw_only=True):
    release_id: str


class ReleaseJobOut(Response):
    key: str
    policy: str
    job_name: str
    status: str
    exit_code: int | None
    reason: str | None
    started_at: str | None
    finished_at: str | None


class ReleaseOut(Response):
    id: str
    app_id: str
    number: int
    image: str
    is_restart: bool
    rollback_of: str | None
    status: str
    failure_reason: str | None
    created_by: str
    created_at: str
    pre_jobs_started_at: str | None
    rollout_started_at: str | None
    post_jobs_started_at: str | None
    finished_at: str | None
    jobs: list[ReleaseJobOut]
    # The process specs as they were when the release was created.
    processes: list[dict[str, Any]]


class ReleaseList(Page):
    data: list[ReleaseOut]
