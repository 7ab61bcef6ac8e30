"""The queries procplane runs: the only module that writes SQL for the services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from controlplane.domain import states
from controlplane.domain.observed import Condition, ObservedStatus
from controlplane.domain.tenancy import TeamScope
from controlplane.store import models

Row = TypeVar("Row")


async def page(session: AsyncSession, query: SelectOfScalar[Row], offset: int, limit: int) -> tuple[Sequence[Row], int]:
    """One page of an ordered query and the number of rows of the whole query."""
    counted: sa.Select[Any] = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    total = await session.scalar(counted)
    result = await session.execute(query.offset(offset).limit(limit))
    return result.scalars().all(), int(total or 0)


async def get_application(session: AsyncSession, app_id: str) -> models.Application | None:
    """Any team's application: for the reconciler and the operator's command line."""
    return await session.get(models.Application, app_id)


async def visible_application(session: AsyncSession, scope: TeamScope, app_id: str) -> models.Application | None:
    app = await session.get(models.Application, app_id)
    return app if app is not None and scope.sees(app.team_id) else None


async def _lock_row(session: AsyncSession, table: type[models.Application] | type[models.Team], row_id: str) -> bool:
    """Hold one row until the transaction ends; False if there is no such row.

    PostgreSQL locks the row (FOR NO KEY UPDATE: rows that merely reference it may still be
    inserted). SQLite has no row locks and one writer at a time, so a no-op UPDATE of the row takes
    the database's write lock (waiting up to the busy timeout), and every read after it sees the
    last committed state. Call it before reading what it protects: on SQLite, a transaction that
    read first and then wants the write lock can be refused instead of waiting."""
    row = col(table.id) == row_id
    if session.get_bind().dialect.name == "postgresql":
        return await session.scalar(sa.select(col(table.id)).where(row).with_for_update(key_share=True)) is not None
    touched = await session.execute(
        sa.update(table).where(row).values(id=col(table.id)).execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], touched).rowcount)


async def lock_application(session: AsyncSession, app_id: str) -> models.Application | None:
    """The application, read afresh and locked until the transaction ends; None if there is none.

    Every write under an application takes this lock first, so the checks it makes on what it
    reads (plan limits, one web process, one running deployment, the keys taken, the current
    generation) still hold when it writes."""
    if not await _lock_row(session, models.Application, app_id):
        return None
    return await session.get(models.Application, app_id, populate_existing=True)


async def application_by_name(session: AsyncSession, name: str) -> models.Application | None:
    result = await session.execute(select(models.Application).where(models.Application.name == name))
    return result.scalars().first()


async def list_applications(
    session: AsyncSession, scope: TeamScope, offset: int, limit: int
) -> tuple[Sequence[models.Application], int]:
    query = select(models.Application).order_by(col(models.Application.created_at), col(models.Application.id))
    if not scope.spans_teams:
        query = query.where(models.Application.team_id == scope.team_id)
    return await page(session, query, offset, limit)


async def count_applications(session: AsyncSession, team_id: str) -> int:
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(models.Application).where(col(models.Application.team_id) == team_id)
    )
    return int(total or 0)


# ---- teams ----


async def get_team(session: AsyncSession, team_id: str) -> models.Team | None:
    return await session.get(models.Team, team_id)


async def team_by_name(session: AsyncSession, name: str) -> models.Team | None:
    result = await session.execute(select(models.Team).where(models.Team.name == name))
    return result.scalars().first()


async def list_teams(session: AsyncSession, offset: int, limit: int) -> tuple[Sequence[models.Team], int]:
    query = select(models.Team).order_by(col(models.Team.created_at), col(models.Team.id))
    return await page(session, query, offset, limit)


async def lock_team(session: AsyncSession, team_id: str) -> bool:
    """Hold the team's row until the transaction ends (see `_lock_row`), so counting what the team
    has and adding to it is one step under concurrent requests. False if there is no such team."""
    return await _lock_row(session, models.Team, team_id)


async def lock_operator_keys(session: AsyncSession) -> None:
    """Like `lock_team`, for the keys that belong to no team: counting the operator keys left and
    revoking one is one step."""
    operator = col(models.ApiKey.role) == states.Role.OPERATOR
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.select(col(models.ApiKey.id)).where(operator).with_for_update())
    else:
        await session.execute(sa.update(models.ApiKey).where(operator).values(id=col(models.ApiKey.id)))


async def config_vars(session: AsyncSession, app_id: str) -> dict[str, str]:
    return {key: row.value for key, row in (await config_var_rows(session, app_id)).items()}


async def config_var_rows(session: AsyncSession, app_id: str) -> dict[str, models.ConfigVar]:
    """Every config var of an application in one query, to change a set of them at once."""
    result = await session.execute(select(models.ConfigVar).where(models.ConfigVar.app_id == app_id))
    return {row.key: row for row in result.scalars().all()}


async def get_process(session: AsyncSession, app_id: str, process_id: str) -> models.Process | None:
    row = await session.get(models.Process, process_id)
    return row if row is not None and row.app_id == app_id else None


async def update_process(session: AsyncSession, row: models.Process, values: dict[str, Any]) -> bool:
    """Write `values` to the process and raise its generation, only if it is still at the
    generation `row` was read at (compare-and-swap in one statement); `row` then reads back what
    was stored. False, writing nothing, when another request changed or deleted it first."""
    written = await session.execute(
        sa.update(models.Process)
        .where(col(models.Process.id) == row.id, col(models.Process.generation) == row.generation)
        .values(**values, generation=col(models.Process.generation) + 1)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], written).rowcount != 1:
        return False
    await session.refresh(row)
    return True


async def delete_process(session: AsyncSession, row: models.Process) -> bool:
    """Delete the process (its status, runs and readings go with it) only if it is still at the
    generation `row` was read at; False, deleting nothing, when another request got there first."""
    deleted = await session.execute(
        sa.delete(models.Process)
        .where(col(models.Process.id) == row.id, col(models.Process.generation) == row.generation)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], deleted).rowcount != 1:
        return False
    session.expunge(row)
    return True


async def runs_of(
    session: AsyncSession, process_id: str, offset: int, limit: int
) -> tuple[Sequence[models.ProcessRun], int]:
    query = (
        select(models.ProcessRun)
        .where(models.ProcessRun.process_id == process_id)
        .order_by(col(models.ProcessRun.requested_at).desc(), col(models.ProcessRun.id))
    )
    return await page(session, query, offset, limit)


async def process_by_key(session: AsyncSession, app_id: str, key: str) -> models.Process | None:
    result = await session.execute(
        select(models.Process).where(models.Process.app_id == app_id, models.Process.key == key)
    )
    return result.scalars().first()


async def processes_of(session: AsyncSession, app_id: str) -> Sequence[models.Process]:
    result = await session.execute(
        select(models.Process).where(models.Process.app_id == app_id).order_by(col(models.Process.key))
    )
    return result.scalars().all()


async def list_processes(
    session: AsyncSession, app_id: str, offset: int, limit: int
) -> tuple[Sequence[models.Process], int]:
    query = (
        select(models.Process)
        .where(models.Process.app_id == app_id)
        .order_by(col(models.Process.created_at), col(models.Process.key))
    )
    return await page(session, query, offset, limit)


async def count_processes(session: AsyncSession, app_id: str) -> int:
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(models.Process).where(col(models.Process.app_id) == app_id)
    )
    return int(total or 0)


async def resource_types(session: AsyncSession, *, active_only: bool) -> Sequence[models.ResourceType]:
    query = select(models.ResourceType).order_by(col(models.ResourceType.cpu_limit), col(models.ResourceType.name))
    if active_only:
        query = query.where(col(models.ResourceType.active).is_(True))
    result = await session.execute(query)
    return result.scalars().all()


async def get_resource_type(session: AsyncSession, type_id: str) -> models.ResourceType | None:
    return await session.get(models.ResourceType, type_id)


async def api_key_by_hash(session: AsyncSession, digest: str) -> models.ApiKey | None:
    result = await session.execute(select(models.ApiKey).where(models.ApiKey.token_hash == digest))
    return result.scalars().first()


async def list_api_keys(
    session: AsyncSession, scope: TeamScope, offset: int, limit: int
) -> tuple[Sequence[models.ApiKey], int]:
    query = select(models.ApiKey).order_by(col(models.ApiKey.created_at), col(models.ApiKey.id))
    if not scope.spans_teams:
        query = query.where(models.ApiKey.team_id == scope.team_id)
    return await page(session, query, offset, limit)


async def get_api_key(session: AsyncSession, scope: TeamScope, key_id: str) -> models.ApiKey | None:
    row = await session.get(models.ApiKey, key_id)
    # An operator key's team is None, which no team's scope sees: only operators see them.
    return row if row is not None and scope.sees(row.team_id) else None


async def count_live_keys(session: AsyncSession, role: str, team_id: str | None) -> int:
    """The unrevoked keys of a role in a team (operator keys: team None)."""
    team = col(models.ApiKey.team_id)
    total = await session.scalar(
        sa.select(sa.func.count())
        .select_from(models.ApiKey)
        .where(
            col(models.ApiKey.role) == role,
            team.is_(None) if team_id is None else team == team_id,
            col(models.ApiKey.revoked_at).is_(None),
        )
    )
    return int(total or 0)


async def count_api_keys(session: AsyncSession) -> int:
    total = await session.scalar(sa.select(sa.func.count()).select_from(models.ApiKey))
    return int(total or 0)


# ---- observing what runs ----


async def alert_rules_of(session: AsyncSession, process_id: str) -> models.ProcessAlertRules | None:
    return await session.get(models.ProcessAlertRules, process_id)


async def alert_states_of(session: AsyncSession, process_id: str) -> list[models.ProcessAlertState]:
    result = await session.execute(
        select(models.ProcessAlertState)
        .where(models.ProcessAlertState.process_id == process_id)
        .order_by(col(models.ProcessAlertState.rule))
    )
    return list(result.scalars().all())


async def heartbeat_of(session: AsyncSession, process_id: str) -> models.ProcessHeartbeat | None:
    return await session.get(models.ProcessHeartbeat, process_id)


async def instances_of(
    session: AsyncSession, process_id: str, offset: int, limit: int
) -> tuple[Sequence[models.ProcessInstance], int]:
    query = (
        select(models.ProcessInstance)
        .where(models.ProcessInstance.process_id == process_id)
        .order_by(col(models.ProcessInstance.name))
    )
    return await page(session, query, offset, limit)


async def get_instance(session: AsyncSession, process_id: str, name: str) -> models.ProcessInstance | None:
    return await session.get(models.ProcessInstance, (process_id, name))


async def instances_on(
    session: AsyncSession, scope: TeamScope, nodes: Sequence[str]
) -> Sequence[models.ProcessInstance]:
    query = (
        select(models.ProcessInstance)
        .where(col(models.ProcessInstance.node).in_(list(nodes)))
        .order_by(col(models.ProcessInstance.node), col(models.ProcessInstance.name))
    )
    if not scope.spans_teams:
        team_apps = sa.select(col(models.Application.id)).where(col(models.Application.team_id) == scope.team_id)
        query = query.where(col(models.ProcessInstance.app_id).in_(team_apps))
    result = await session.execute(query)
    return result.scalars().all()


async def cluster_nodes(session: AsyncSession) -> Sequence[models.ClusterNode]:
    result = await session.execute(select(models.ClusterNode).order_by(col(models.ClusterNode.name)))
    return result.scalars().all()


async def recent_samples(
    session: AsyncSession, process_id: str, offset: int, limit: int
) -> tuple[Sequence[models.ProcessSample], int]:
    query = (
        select(models.ProcessSample)
        .where(models.ProcessSample.process_id == process_id)
        .order_by(col(models.ProcessSample.recorded_at).desc(), col(models.ProcessSample.id).desc())
    )
    return await page(session, query, offset, limit)


async def samples_between(
    session: AsyncSession, process_id: str, start: datetime, end: datetime
) -> Sequence[models.ProcessSample]:
    result = await session.execute(
        select(models.ProcessSample)
        .where(
            models.ProcessSample.process_id == process_id,
            col(models.ProcessSample.recorded_at) >= start,
            col(models.ProcessSample.recorded_at) <= end,
        )
        .order_by(col(models.ProcessSample.recorded_at))
    )
    return result.scalars().all()


async def restarts_since(session: AsyncSession, process_id: str, since: datetime) -> int:
    total = await session.scalar(
        sa.select(sa.func.sum(models.ProcessRestart.count)).where(
            col(models.ProcessRestart.process_id) == process_id, col(models.ProcessRestart.observed_at) > since
        )
    )
    return int(total or 0)


async def deliveries_of(
    session: AsyncSession, process_id: str, offset: int, limit: int
) -> tuple[Sequence[models.WebhookDelivery], int]:
    query = (
        select(models.WebhookDelivery)
        .where(models.WebhookDelivery.process_id == process_id)
        .order_by(col(models.WebhookDelivery.created_at).desc(), col(models.WebhookDelivery.id))
    )
    return await page(session, query, offset, limit)


def presented_state_sql() -> sa.ColumnElement[str]:
    """The API's process status as SQL, for filtering: the stored state, `pending` before the
    first report, `alerting` when the process is up and a rule fires (see `observed`)."""
    firing = (
        sa.select(col(models.ProcessAlertState.process_id))
        .where(
            col(models.ProcessAlertState.process_id) == col(models.Process.id),
            col(models.ProcessAlertState.firing).is_(True),
        )
        .exists()
    )
    state = col(models.ProcessStatus.state)
    return sa.case((state.is_(None), "pending"), (sa.and_(state == "up", firing), "alerting"), else_=state)


class SearchFilter:
    """`GET /v1/processes` criteria, already validated."""

    def __init__(
        self,
        *,
        scope: TeamScope,
        search: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        window: tuple[datetime, datetime] | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 25,
    ) -> None:
        self.scope = scope
        self.search = search
        self.tags = tags
        self.window = window
        self.after = after
        self.limit = limit


async def search_processes(
    session: AsyncSession, criteria: SearchFilter
) -> Sequence[tuple[models.Process, models.Application, models.ResourceType, str]]:
    state = presented_state_sql().label("presented_state")
    query = (
        sa.select(models.Process, models.Application, models.ResourceType, state)
        .join(models.Application, col(models.Application.id) == col(models.Process.app_id))
        .join(models.ResourceType, col(models.ResourceType.id) == col(models.Process.resource_type_id))
        .outerjoin(models.ProcessStatus, col(models.ProcessStatus.process_id) == col(models.Process.id))
    )
    if not criteria.scope.spans_teams:
        query = query.where(col(models.Application.team_id) == criteria.scope.team_id)
    if criteria.search:
        needle = criteria.search.lower()
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        col(models.Process.key),
                        col(models.Process.display_name),
                        col(models.Application.name),
                        sa.func.coalesce(col(models.Process.entrypoint), ""),
                    )
                )
            )
        )
    for name, value in criteria.tags:
        if name == "application":
            query = query.where(col(models.Application.name) == value)
        elif name == "process":
            query = query.where(col(models.Process.key) == value)
        elif name == "type":
            query = query.where(col(models.Process.type) == value)
        elif name == "resource_type":
            query = query.where(col(models.ResourceType.name) == value)
        elif name == "status":
            query = query.where(presented_state_sql() == value)
        elif name == "node":
            query = query.where(
                sa.select(col(models.ProcessInstance.name))
                .where(
                    col(models.ProcessInstance.process_id) == col(models.Process.id),
                    col(models.ProcessInstance.node) == value,
                )
                .exists()
            )
    if criteria.window is not None:
        start, end = criteria.window
        query = query.where(
            sa.select(col(models.ProcessSample.id))
            .where(
                col(models.ProcessSample.process_id) == col(models.Process.id),
                col(models.ProcessSample.recorded_at) >= start,
                col(models.ProcessSample.recorded_at) <= end,
                col(models.ProcessSample.count) > 0,
            )
            .exists()
        )
    if criteria.after is not None:
        created, process_id = criteria.after
        query = query.where(
            sa.or_(
                col(models.Process.created_at) > created,
                sa.and_(col(models.Process.created_at) == created, col(models.Process.id) > process_id),
            )
        )
    query = query.order_by(col(models.Process.created_at), col(models.Process.id)).limit(criteria.limit)
    rows = (await session.execute(query)).all()
    return [(row[0], row[1], row[2], str(row[3])) for row in rows]


def observed_status(row: models.ProcessStatus) -> ObservedStatus:
    return ObservedStatus(
        state=states.ProcessStatus(row.state),
        desired_instances=row.desired_instances,
        ready_instances=row.ready_instances,
        observed_generation=row.observed_generation,
        conditions=msgspec.convert(row.conditions, list[Condition]),
    )


class ProcessReadings(NamedTuple):
    """What a process's representation shows beside its spec row: its machine size, what the
    reconciler and the observer last recorded of it."""

    resource_type: models.ResourceType
    status: ObservedStatus | None
    firing: tuple[str, ...]
    heartbeat: models.ProcessHeartbeat | None
    last_sample: models.ProcessSample | None


async def readings_of(session: AsyncSession, processes: Sequence[models.Process]) -> dict[str, ProcessReadings]:
    """The readings of a page of processes in five queries, however long the page."""
    ids = [p.id for p in processes]
    if not ids:
        return {}
    types = await session.execute(
        select(models.ResourceType).where(col(models.ResourceType.id).in_({p.resource_type_id for p in processes}))
    )
    resource_types = {t.id: t for t in types.scalars()}
    statuses = await session.execute(select(models.ProcessStatus).where(col(models.ProcessStatus.process_id).in_(ids)))
    status_of = {s.process_id: observed_status(s) for s in statuses.scalars()}
    alerts = await session.execute(
        select(models.ProcessAlertState)
        .where(col(models.ProcessAlertState.process_id).in_(ids), col(models.ProcessAlertState.firing))
        .order_by(col(models.ProcessAlertState.rule))
    )
    firing: dict[str, list[str]] = {}
    for state in alerts.scalars():
        firing.setdefault(state.process_id, []).append(state.rule)
    beats = await session.execute(
        select(models.ProcessHeartbeat).where(col(models.ProcessHeartbeat.process_id).in_(ids))
    )
    beat_of = {b.process_id: b for b in beats.scalars()}
    newest = (
        sa.select(
            col(models.ProcessSample.id),
            sa.func.row_number()
            .over(
                partition_by=col(models.ProcessSample.process_id),
                order_by=(col(models.ProcessSample.recorded_at).desc(), col(models.ProcessSample.id).desc()),
            )
            .label("rank"),
        )
        .where(col(models.ProcessSample.process_id).in_(ids))
        .subquery()
    )
    samples = await session.execute(
        select(models.ProcessSample).join(newest, col(models.ProcessSample.id) == newest.c.id).where(newest.c.rank == 1)
    )
    sample_of = {s.process_id: s for s in samples.scalars()}
    return {
        p.id: ProcessReadings(
            resource_type=resource_types[p.resource_type_id],
            status=status_of.get(p.id),
            firing=tuple(firing.get(p.id, ())),
            heartbeat=beat_of.get(p.id),
            last_sample=sample_of.get(p.id),
        )
        for p in processes
    }


async def release_jobs(session: AsyncSession, release_ids: Sequence[str]) -> dict[str, list[models.ReleaseJob]]:
    """The Jobs of some releases, by release, in one query."""
    result = await session.execute(select(models.ReleaseJob).where(col(models.ReleaseJob.release_id).in_(release_ids)))
    jobs: dict[str, list[models.ReleaseJob]] = {release_id: [] for release_id in release_ids}
    for job in result.scalars():
        jobs[job.release_id].append(job)
    return jobs


async def active_release(session: AsyncSession, app_id: str) -> models.Release | None:
    result = await session.execute(
        select(models.Release).where(
            models.Release.app_id == app_id, col(models.Release.status).in_(states.ACTIVE_RELEASE_STATUSES)
        )
    )
    return result.scalars().first()


async def cancel_release(session: AsyncSession, release: models.Release, at: datetime) -> bool:
    """Mark the release cancelled only if it is still active, in one statement: it cannot undo an
    outcome the reconciler recorded meanwhile, and of two cancels only one succeeds. `release`
    then reads back what is stored, either way."""
    cancelled = await session.execute(
        sa.update(models.Release)
        .where(col(models.Release.id) == release.id, col(models.Release.status).in_(states.ACTIVE_RELEASE_STATUSES))
        .values(status=states.ReleaseStatus.CANCELLED, failure_reason="cancelled", finished_at=at)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(release)
    return cast(CursorResult[Any], cancelled).rowcount == 1


async def list_releases(
    session: AsyncSession, app_id: str, offset: int, limit: int
) -> tuple[Sequence[models.Release], int]:
    query = select(models.Release).where(models.Release.app_id == app_id).order_by(col(models.Release.number).desc())
    return await page(session, query, offset, limit)


async def next_release_number(session: AsyncSession, app_id: str) -> int:
    latest = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(models.Release.number), 0)).where(col(models.Release.app_id) == app_id)
    )
    return int(latest or 0) + 1
