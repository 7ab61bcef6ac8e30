"""Processes: create, change and delete specs, with plan limits and optimistic concurrency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.catalog.service import resource_type_id
from controlplane.api.processes import presenter
from controlplane.api.processes.schemas import (
    PROCESS_ALIASES,
    ManualScaling,
    ManualScalingConfig,
    ProcessCreate,
    ProcessFields,
    ProcessList,
    ProcessOut,
    ProcessRunList,
    ProcessRunOut,
    ProcessUpdate,
)
from controlplane.domain import clock, validation
from controlplane.domain.errors import (
    DuplicateProcess,
    FieldError,
    PlanLimitReached,
    PreconditionFailed,
    ValidationFailed,
)
from controlplane.domain.settings import Settings
from controlplane.domain.tenancy import TeamScope
from controlplane.domain.validation import ProcessDraft
from controlplane.store import changes, lookup, models, repository

Fields = TypeVar("Fields", bound=ProcessFields)


def instance_ceiling(scaling: dict[str, Any]) -> int:
    config = scaling["config"]
    return int(config["instanceCount"] if scaling["type"] == "manual" else config["maxInstanceCount"])


def too_many_processes(limit: int) -> PlanLimitReached:
    return PlanLimitReached(
        f"An application may have at most {limit} processes on this plan", scope="per_application", limit=limit
    )


def if_match_holds(header: str | None, process: models.Process) -> bool:
    if header is None or header.strip() == "*":
        return True
    current = presenter.etag(process)
    return current in presenter.strong_etags(header)


def stale(row: models.Process) -> PreconditionFailed:
    return PreconditionFailed(f"Process {row.id} is at {presenter.etag(row)}; reload and retry")


class ProcessService:
    def __init__(self, session: AsyncSession, settings: Settings, scope: TeamScope) -> None:
        self.session = session
        self.settings = settings
        self.scope = scope

    async def application(self, app_id: str) -> models.Application:
        return await lookup.application(self.session, self.scope, app_id)

    async def locked_application(self, app_id: str) -> models.Application:
        """The application, locked until commit: taken before any read a write depends on."""
        return await lookup.locked_application(self.session, self.scope, app_id)

    async def _process(self, app_id: str, process_id: str) -> models.Process:
        return await lookup.process(self.session, self.scope, app_id, process_id)

    async def present_all(self, app: models.Application, rows: Sequence[models.Process]) -> list[ProcessOut]:
        readings, now = await repository.readings_of(self.session, rows), clock.utcnow()
        return [presenter.process(app, row, readings[row.id], self.settings.cluster_domain, now) for row in rows]

    async def present(self, app: models.Application, row: models.Process) -> ProcessOut:
        (presented,) = await self.present_all(app, [row])
        return presented

    async def list(self, app_id: str, offset: int, limit: int) -> ProcessList:
        app = await self.application(app_id)
        rows, total = await repository.list_processes(self.session, app_id, offset, limit)
        return ProcessList(data=await self.present_all(app, rows), total=total, offset=offset, limit=limit)

    async def get(self, app_id: str, process_id: str) -> tuple[ProcessOut, str]:
        app = await self.application(app_id)
        row = await self._process(app_id, process_id)
        return await self.present(app, row), presenter.etag(row)

    def default_draft(self, key: str, process_type: str) -> ProcessDraft:
        is_web = process_type == "web"
        return ProcessDraft(
            key=key,
            type=process_type,
            # Named after its key; a key no display name could hold is reported as the key alone.
            display_name=key if 0 < len(key) <= validation.DISPLAY_NAME_MAX else process_type,
            entrypoint=None,
            port=validation.DEFAULT_PORT,
            is_ingress_enabled=is_web,
            ingress_protocol="http" if is_web else None,
            scaling_strategy={"type": "manual", "config": {"instanceCount": 1}},
            resource_type_id=resource_type_id(self.settings.default_resource_type),
            schedule=None,
            # Sevalla's clients leave the zone out: a cron process runs on UTC unless told otherwise.
            time_zone=validation.DEFAULT_TIME_ZONE if process_type == "cron" else None,
            job_start_policy="beforeDeployment" if process_type == "job" else None,
            liveness_probe=None,
            readiness_probe=None,
        )

    async def check(self, app: models.Application, draft: ProcessDraft, current: models.Process | None) -> None:
        """Raise the first kind of problem the draft has: invalid fields, then plan limits."""
        errors = validation.process_errors(draft, app.name)
        resource_type = await repository.get_resource_type(self.session, draft.resource_type_id)
        unchanged_type = current is not None and current.resource_type_id == draft.resource_type_id
        if resource_type is None or not (resource_type.active or unchanged_type):
            errors.append(
                FieldError(
                    "resource_type_id",
                    "unknown_resource_type",
                    "not in the catalog (GET /v1/resources/process-resource-types)",
                )
            )
        if draft.type == "web" and (current is None or current.type != "web"):
            for other in await repository.processes_of(self.session, app.id):
                if other.type == "web" and other.key != draft.key:
                    errors.append(
                        FieldError("type", "web_already_exists", f"'{other.key}' is this application's web process")
                    )
        if errors:
            raise ValidationFailed(errors)
        limit = self.settings.max_instances_per_process
        if instance_ceiling(draft.scaling_strategy) > limit:
            raise PlanLimitReached(
                f"A process may run at most {limit} instances on this plan", scope="per_process", limit=limit
            )
        if current is None:
            limit = self.settings.max_processes_per_application
            if await repository.count_processes(self.session, app.id) >= limit:
                raise too_many_processes(limit)

    async def resolve_aliases(self, data: Fields) -> Fields:
        """The request with the CLI's names replaced by the fields they stand for."""
        errors = [
            FieldError(alias, "conflicting_fields", f"send either {alias} or {field}, not both")
            for alias, field in PROCESS_ALIASES.items()
            if getattr(data, alias) is not UNSET and getattr(data, field) is not UNSET
        ]
        if errors:
            raise ValidationFailed(errors)
        given: dict[str, Any] = {alias: UNSET for alias in PROCESS_ALIASES}
        if data.name is not UNSET:
            given["display_name"] = data.name
        if data.command is not UNSET:
            given["entrypoint"] = data.command
        if data.instances is not UNSET:
            given["scaling_strategy"] = ManualScaling(ManualScalingConfig(data.instances))
        if data.resource_type is not UNSET:
            catalog = await repository.resource_types(self.session, active_only=True)
            match = next((t.id for t in catalog if data.resource_type in (t.id, t.name)), None)
            if match is None:
                raise ValidationFailed(
                    [FieldError("resource_type", "unknown_resource_type", "not the id or name of a catalog entry")]
                )
            given["resource_type_id"] = match
        return msgspec.structs.replace(data, **given)

    async def create(self, app_id: str, data: ProcessCreate) -> tuple[ProcessOut, str]:
        app = await self.locked_application(app_id)
        data = await self.resolve_aliases(data)
        if data.key is UNSET:
            taken = {p.key for p in await repository.processes_of(self.session, app_id)}
            display_name = data.display_name if data.display_name is not UNSET else None
            key = validation.derive_key(data.type, display_name, app.name, taken)
        else:
            key = data.key
        draft = apply_fields(self.default_draft(key, data.type), data)
        await self.check(app, draft, None)
        if await repository.process_by_key(self.session, app_id, key) is not None:
            raise DuplicateProcess(f"Process '{key}' already exists in this application", field="key")
        row = self.insert(app, draft)
        await self.flush_unique(draft.key)
        await changes.announce(self.session, app_id)
        await self.session.commit()
        return await self.present(app, row), presenter.etag(row)

    def insert(self, app: models.Application, draft: ProcessDraft) -> models.Process:
        now = clock.utcnow()
        row = models.Process(app_id=app.id, created_at=now, updated_at=now, **msgspec.structs.asdict(draft))
        self.session.add(row)
        return row

    async def flush_unique(self, key: str) -> None:
        """A concurrent request may win the race for the key or the web slot: report it, not a 500."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.session.rollback()
            raise DuplicateProcess(
                f"Process '{key}' or another web process was created concurrently", field="key"
            ) from exc

    async def update(
        self, app_id: str, process_id: str, data: ProcessUpdate, if_match: str | None
    ) -> tuple[ProcessOut, str]:
        app = await self.locked_application(app_id)
        row = await self._process(app_id, process_id)
        if not if_match_holds(if_match, row):
            raise stale(row)
        data = await self.resolve_aliases(data)
        errors = []
        if data.type is not UNSET and data.type != row.type:
            errors.append(FieldError("type", "immutable", "the type of a process cannot change"))
        if data.key is not UNSET and data.key != row.key:
            errors.append(FieldError("key", "immutable", "the key of a process names its objects and cannot change"))
        if errors:
            raise ValidationFailed(errors)
        current = draft_of(row)
        draft = apply_fields(current, data)
        await self.check(app, draft, row)
        if draft != current:
            await self.write(row, draft)
            await changes.announce(self.session, app_id)
            await self.session.commit()
        return await self.present(app, row), presenter.etag(row)

    async def write(self, row: models.Process, draft: ProcessDraft) -> None:
        """Store the draft as the process's next generation, if no one else wrote it since `row`
        was read (under the application's lock no one can: this is the guarantee, not the hope)."""
        values = {**msgspec.structs.asdict(draft), "updated_at": clock.utcnow()}
        if not await repository.update_process(self.session, row, values):
            raise stale(row)

    async def trigger(self, app_id: str, process_id: str, requested_by: str) -> ProcessRunOut:
        """Ask the reconciler to run a cron process now; it creates one Job for this run."""
        await self.application(app_id)
        row = await self._process(app_id, process_id)
        if row.type != "cron":
            raise ValidationFailed(
                [FieldError("type", "not_allowed_for_type", f"only cron processes run on demand, not {row.type}")]
            )
        run = models.ProcessRun(process_id=row.id, requested_by=requested_by, requested_at=clock.utcnow())
        self.session.add(run)
        await changes.announce(self.session, app_id)
        await self.session.commit()
        return presenter.process_run(run)

    async def runs(self, app_id: str, process_id: str, offset: int, limit: int) -> ProcessRunList:
        await self.application(app_id)
        row = await self._process(app_id, process_id)
        rows, total = await repository.runs_of(self.session, row.id, offset, limit)
        return ProcessRunList(data=[presenter.process_run(r) for r in rows], total=total, offset=offset, limit=limit)

    async def delete(self, app_id: str, process_id: str, if_match: str | None) -> None:
        await self.locked_application(app_id)
        row = await self._process(app_id, process_id)
        if not if_match_holds(if_match, row):
            raise stale(row)
        if not await repository.delete_process(self.session, row):
            raise stale(row)
        await changes.announce(self.session, app_id)
        await self.session.commit()


def draft_of(row: models.Process) -> ProcessDraft:
    return ProcessDraft(**{name: getattr(row, name) for name in ProcessDraft.__struct_fields__})


def apply_fields(draft: ProcessDraft, data: ProcessFields) -> ProcessDraft:
    """Fields the request names replace the draft's; null clears an optional field. A blank for
    a field the process's type does not take changes nothing, and an empty entrypoint is none
    (the image's own command)."""
    assert all(getattr(data, alias) is UNSET for alias in PROCESS_ALIASES), "resolve aliases first"
    fields = (name for name in ProcessFields.__struct_fields__ if name not in PROCESS_ALIASES)
    given = {name: value for name in fields if (value := getattr(data, name)) is not UNSET}
    for name in validation.blanks_not_applying(draft.type, given):
        del given[name]
    if given.get("entrypoint") == "":
        given["entrypoint"] = None
    # Stored as sent: Sevalla's clients (Terraform above all) must read back exactly what they wrote;
    # what a scaling strategy leaves out takes its defaults where the HPA is rendered.
    for structured in ("scaling_strategy", "liveness_probe", "readiness_probe"):
        if given.get(structured) is not None:
            given[structured] = msgspec.to_builtins(given[structured])
    return msgspec.structs.replace(draft, **given)
