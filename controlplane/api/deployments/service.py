"""Releases: record release N and let the reconciler run it; cancel; roll back to an earlier one."""

from __future__ import annotations

import msgspec
from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.deployments import presenter
from controlplane.api.deployments.schemas import DeploymentCreate, ReleaseList, ReleaseOut, RollbackCreate
from controlplane.api.processes.service import ProcessService
from controlplane.domain import clock, states, validation
from controlplane.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from controlplane.store import changes, models, repository


class ReleaseService:
    def __init__(self, session: AsyncSession, processes: ProcessService, actor: str) -> None:
        self.session = session
        self.processes = processes
        # Who asks: each release records the API key that created it.
        self.actor = actor

    async def _jobs(self, release_id: str) -> list[models.ReleaseJob]:
        return (await repository.release_jobs(self.session, [release_id]))[release_id]

    async def _release(self, app_id: str, release_id: str) -> models.Release:
        release = await self.session.get(models.Release, release_id)
        if release is None or release.app_id != app_id:
            raise NotFound(f"Deployment {release_id} does not exist in application {app_id}")
        return release

    async def _active(self, app_id: str) -> models.Release | None:
        return await repository.active_release(self.session, app_id)

    async def get(self, app_id: str, release_id: str) -> ReleaseOut:
        await self.processes.application(app_id)
        release = await self._release(app_id, release_id)
        return presenter.release(release, await self._jobs(release.id))

    async def list(self, app_id: str, offset: int, limit: int) -> ReleaseList:
        await self.processes.application(app_id)
        rows, total = await repository.list_releases(self.session, app_id, offset, limit)
        jobs = await repository.release_jobs(self.session, [r.id for r in rows])
        data = [presenter.release(r, jobs[r.id]) for r in rows]
        return ReleaseList(data=data, total=total, offset=offset, limit=limit)

    async def create(self, app_id: str, data: DeploymentCreate) -> ReleaseOut:
        app = await self.processes.locked_application(app_id)
        image = app.image if data.image is UNSET else data.image
        if image is None:
            raise ValidationFailed([FieldError("image", "required", "the application has no image to restart with")])
        if data.image is not UNSET and data.is_restart and data.image != app.image:
            raise ValidationFailed(
                [FieldError("image", "not_allowed_for_type", "a restart keeps the current image; omit image")]
            )
        errors = validation.image_errors(image)
        if errors:
            raise ValidationFailed(errors)
        return await self._record(app, image, is_restart=data.is_restart, rollback_of=None)

    async def rollback(self, app_id: str, data: RollbackCreate) -> ReleaseOut:
        app = await self.processes.locked_application(app_id)
        target = await self.session.get(models.Release, data.release_id)
        if target is None or target.app_id != app_id:
            raise ValidationFailed([FieldError("release_id", "not_found", "no such deployment in this application")])
        if target.status != states.ReleaseStatus.SUCCEEDED:
            raise ValidationFailed(
                [
                    FieldError(
                        "release_id",
                        "invalid_choice",
                        f"only a succeeded deployment can be restored, not a {target.status} one",
                    )
                ]
            )
        return await self._record(app, target.image, is_restart=False, rollback_of=target.id)

    async def _record(
        self, app: models.Application, image: str, *, is_restart: bool, rollback_of: str | None
    ) -> ReleaseOut:
        """Under the application's lock (taken by the caller): the check for a running deployment
        and the next number hold until commit, so of parallel requests exactly one records."""
        active = await self._active(app.id)
        if active is not None:
            raise Conflict(f"Deployment {active.number} is still running", running_deployment_id=active.id)
        number = await repository.next_release_number(self.session, app.id)
        rows = await repository.processes_of(self.session, app.id)
        snapshot = [msgspec.to_builtins(p) for p in await self.processes.present_all(app, rows)]
        release = models.Release(
            app_id=app.id, number=number, image=image, is_restart=is_restart, rollback_of=rollback_of,
            status=states.ReleaseStatus.PENDING, snapshot=snapshot, created_by=self.actor, created_at=clock.utcnow(),
        )  # fmt: skip
        self.session.add(release)
        app_id = app.id  # a rollback expires every loaded row: read nothing from them after it
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.session.rollback()
            running = await self._active(app_id)
            raise Conflict(
                "Another deployment was started at the same moment",
                running_deployment_id=running.id if running else None,
            ) from exc
        await changes.announce(self.session, app.id)
        await self.session.commit()
        return presenter.release(release, [])

    async def cancel(self, app_id: str, release_id: str) -> ReleaseOut:
        await self.processes.application(app_id)
        release = await self._release(app_id, release_id)
        if not await repository.cancel_release(self.session, release, clock.utcnow()):
            raise Conflict(f"Deployment {release.number} already ended: {release.status}")
        await changes.announce(self.session, app_id)
        await self.session.commit()
        return presenter.release(release, await self._jobs(release.id))
