"""Creating and updating processes from a Procfile or an app.json, all or nothing."""

from __future__ import annotations

import msgspec

from controlplane.api.processes.procfile import DeclaredProcess
from controlplane.api.processes.schemas import ProcfileResult
from controlplane.api.processes.service import ProcessService, draft_of, too_many_processes
from controlplane.domain import validation
from controlplane.domain.errors import FieldError, ValidationFailed
from controlplane.store import changes, repository


def _line_errors(errors: list[FieldError], entry: DeclaredProcess, source: str) -> list[FieldError]:
    """Point each rule a declared process breaks at the line (or cron entry) that declared it."""
    return [msgspec.structs.replace(e, field=f"{source}.{e.field}", line=entry.line) for e in errors]


async def import_processes(
    service: ProcessService, app_id: str, declared: list[DeclaredProcess], *, source: str, prune: bool
) -> ProcfileResult:
    """`source` is `procfile` or `app_json`; pruning only removes processes of the types that
    source can declare, so a Procfile never prunes the crons of an app.json and vice versa."""
    session = service.session
    app = await service.locked_application(app_id)
    existing = {row.key: row for row in await repository.processes_of(session, app_id)}
    result = ProcfileResult(created=[], updated=[], unchanged=[], removed=[])
    errors: list[FieldError] = []
    creates = []
    for entry in declared:
        row = existing.get(entry.key)
        if row is not None and row.type != entry.type:
            errors.append(
                FieldError(
                    f"{source}.key",
                    "type_conflict",
                    f"'{entry.key}' exists as a {row.type} process and cannot become a {entry.type}",
                    line=entry.line,
                )
            )
            continue
        base = draft_of(row) if row is not None else service.default_draft(entry.key, entry.type)
        draft = msgspec.structs.replace(base, entrypoint=entry.entrypoint)
        if entry.type == "cron":
            draft = msgspec.structs.replace(draft, schedule=entry.schedule, time_zone=entry.time_zone)
        errors += _line_errors(validation.process_errors(draft, app.name), entry, source)
        if row is None:
            creates.append(draft)
        elif draft != draft_of(row):
            await service.write(row, draft)
            result.updated.append(entry.key)
        else:
            result.unchanged.append(entry.key)
    if errors:
        raise ValidationFailed(errors, f"The {source.replace('_', '.')} declares invalid processes")
    if prune:
        declared_keys = {entry.key for entry in declared}
        prunable = {"cron"} if source == "app_json" else {"web", "worker", "job"}
        for key, row in existing.items():
            if key not in declared_keys and row.type in prunable:
                await session.delete(row)
                result.removed.append(key)
        # Deletes reach the database before the inserts below, or a new web would meet the old one.
        await session.flush()
    limit = service.settings.max_processes_per_application
    if len(existing) - len(result.removed) + len(creates) > limit:
        raise too_many_processes(limit)
    if sum(1 for d in creates if d.type == "web") and any(
        r.type == "web" and r.key not in result.removed for r in existing.values()
    ):
        raise ValidationFailed(
            [FieldError(f"{source}.key", "web_already_exists", "the application already has a web process")]
        )
    for draft in creates:
        service.insert(app, draft)
        result.created.append(draft.key)
    await service.flush_unique(", ".join(result.created))
    if result.created or result.updated or result.removed:
        await changes.announce(session, app_id)
    await session.commit()
    return result
