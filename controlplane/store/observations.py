"""The observer's view of the database: what it needs to judge each process in, instance
snapshots, samples, restarts, alert transitions and webhook deliveries out.

Each transition is written in the same transaction as the delivery that announces it (an
outbox), so a crash can neither lose a notification nor send one twice for one transition."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from controlplane.domain import observed, observing, states
from controlplane.store import models

HOUR = 3600


def _rules(row: models.ProcessAlertRules | None) -> observing.Rules:
    if row is None:
        return observing.Rules()
    return msgspec.convert(row, observing.Rules, from_attributes=True)


def instance_of(row: models.ProcessInstance) -> observing.Instance:
    values: dict[str, Any] = {}
    for name in observing.Instance.__struct_fields__:
        value = getattr(row, name)
        # SQLite hands times back without their zone; every stored time is UTC.
        values[name] = observed.aware(value) if isinstance(value, datetime) else value
    return observing.Instance(**values)


class Observations:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory

    async def watched(self, now: datetime, restart_window_seconds: int) -> list[observing.Watched]:
        async with self.factory() as session:
            rows = (
                await session.execute(
                    sa.select(models.Process, models.Application, models.ResourceType)
                    .join(models.Application, col(models.Application.id) == col(models.Process.app_id))
                    .join(models.ResourceType, col(models.ResourceType.id) == col(models.Process.resource_type_id))
                )
            ).all()
            rules = {r.process_id: r for r in (await session.execute(select(models.ProcessAlertRules))).scalars()}
            beats = {r.process_id: r for r in (await session.execute(select(models.ProcessHeartbeat))).scalars()}
            states = {r.process_id: r.state for r in (await session.execute(select(models.ProcessStatus))).scalars()}
            firing: dict[str, dict[str, bool]] = {}
            for alert in (await session.execute(select(models.ProcessAlertState))).scalars():
                firing.setdefault(alert.process_id, {})[alert.rule] = alert.firing
            snapshots: dict[str, dict[str, observing.Instance]] = {}
            for inst in (await session.execute(select(models.ProcessInstance))).scalars():
                snapshots.setdefault(inst.process_id, {})[inst.name] = instance_of(inst)
            last_samples = dict(
                (
                    await session.execute(
                        sa.select(
                            col(models.ProcessSample.process_id), sa.func.max(models.ProcessSample.recorded_at)
                        ).group_by(col(models.ProcessSample.process_id))
                    )
                ).all()
            )
            since = now - timedelta(seconds=restart_window_seconds)
            recent = dict(
                (
                    await session.execute(
                        sa.select(col(models.ProcessRestart.process_id), sa.func.sum(models.ProcessRestart.count))
                        .where(col(models.ProcessRestart.observed_at) > since)
                        .group_by(col(models.ProcessRestart.process_id))
                    )
                ).all()
            )
        found = []
        for process, app, resource_type in rows:
            beat = beats.get(process.id)
            rule_row = rules.get(process.id)
            snapshot = snapshots.get(process.id, {})
            last = last_samples.get(process.id)
            found.append(
                observing.Watched(
                    id=process.id,
                    app_id=app.id,
                    app_name=app.name,
                    key=process.key,
                    type=process.type,
                    namespace=app.namespace,
                    limits=observing.Limits(resource_type.cpu_limit, resource_type.memory_limit * 1024 * 1024),
                    state=states.get(process.id, "pending"),
                    rules=_rules(rule_row),
                    webhook_url=rule_row.webhook_url if rule_row else None,
                    heartbeat=observed.heartbeat_status(beat.status, beat.next_heartbeat_at, now) if beat else None,
                    heartbeat_stored=beat.status if beat else None,
                    heartbeat_deadline=observed.aware(beat.next_heartbeat_at) if beat else None,
                    firing=firing.get(process.id, {}),
                    previous={name: (i.uid, i.restarts) for name, i in snapshot.items()},
                    snapshot=snapshot,
                    last_sample_at=observed.aware(last) if last is not None else None,
                    restarts_in_window=int(recent.get(process.id) or 0),
                )
            )
        return found

    async def record(
        self,
        process: observing.Watched,
        now: datetime,
        current: Sequence[observing.Instance],
        restarts: Sequence[observing.Restart],
        sample: observing.Aggregate | None,
        sample_resolution: int,
        changes: Sequence[observing.Transition],
        payload: dict[str, Any],
    ) -> bool:
        """Write what changed for one process; True when anything was written."""
        wanted = {i.name: i for i in current}
        if wanted == process.snapshot and not restarts and sample is None and not changes and not self._dies(process):
            return False
        async with self.factory() as session:
            if await session.get(models.Process, process.id) is None:
                return False  # deleted while we looked
            await self._replace_instances(session, process, wanted, now)
            for restart in restarts:
                session.add(
                    models.ProcessRestart(process_id=process.id, observed_at=now, **msgspec.structs.asdict(restart))
                )
            if sample is not None:
                row = models.ProcessSample(
                    process_id=process.id,
                    recorded_at=now,
                    resolution_seconds=sample_resolution,
                    **msgspec.structs.asdict(sample),
                )
                session.add(row)
            if self._dies(process):
                beat = await session.get(models.ProcessHeartbeat, process.id)
                if beat is not None and beat.status != states.HeartbeatStatus.DEAD:
                    beat.status = states.HeartbeatStatus.DEAD
            for change in changes:
                await self._transition(session, process, change, now, payload)
            await session.commit()
        return True

    @staticmethod
    def _dies(process: observing.Watched) -> bool:
        return (
            process.heartbeat == states.HeartbeatStatus.DEAD and process.heartbeat_stored != states.HeartbeatStatus.DEAD
        )

    async def _replace_instances(
        self, session: AsyncSession, process: observing.Watched, wanted: dict[str, observing.Instance], now: datetime
    ) -> None:
        for name in process.snapshot.keys() - wanted.keys():
            await session.execute(
                sa.delete(models.ProcessInstance).where(
                    col(models.ProcessInstance.process_id) == process.id, col(models.ProcessInstance.name) == name
                )
            )
        for name, instance in wanted.items():
            if process.snapshot.get(name) == instance:
                continue
            row = await session.get(models.ProcessInstance, (process.id, name))
            values = msgspec.structs.asdict(instance)
            if row is None:
                session.add(
                    models.ProcessInstance(process_id=process.id, app_id=process.app_id, observed_at=now, **values)
                )
            else:
                for field, value in values.items():
                    setattr(row, field, value)
                row.observed_at = now

    async def _transition(
        self,
        session: AsyncSession,
        process: observing.Watched,
        change: observing.Transition,
        now: datetime,
        payload: dict[str, Any],
    ) -> None:
        state = await session.get(models.ProcessAlertState, (process.id, change.rule))
        if state is None:
            session.add(models.ProcessAlertState(process_id=process.id, rule=change.rule, firing=change.firing,
                                                 message=change.message[:1024], since=now))  # fmt: skip
        else:
            state.firing, state.message, state.since = change.firing, change.message[:1024], now
        if process.webhook_url:
            delivery = models.WebhookDelivery(
                process_id=process.id,
                event=change.event,
                rule=change.rule,
                url=process.webhook_url,
                payload={},
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
            delivery.payload = {
                "id": delivery.id,
                "event": change.event,
                "rule": change.rule,
                "message": change.message,
                "occurred_at": _iso(now),
                **payload,
            }
            session.add(delivery)

    async def record_nodes(self, nodes: dict[str, tuple[dict[str, str], bool]], now: datetime) -> None:
        async with self.factory() as session:
            stored = {n.name: n for n in (await session.execute(select(models.ClusterNode))).scalars()}
            changed = False
            for name in stored.keys() - nodes.keys():
                await session.delete(stored[name])
                changed = True
            for name, (labels, ready) in nodes.items():
                row = stored.get(name)
                if row is None:
                    session.add(models.ClusterNode(name=name, node_labels=labels, ready=ready, observed_at=now))
                    changed = True
                elif row.node_labels != labels or row.ready != ready:
                    row.node_labels, row.ready, row.observed_at = labels, ready, now
                    changed = True
            if changed:
                await session.commit()

    async def compact(self, now: datetime, raw_retention_hours: int, retention_days: int) -> None:
        """Merge raw samples older than the raw retention into one sample per process and hour,
        drop samples past the retention, and restarts and deliveries nobody can ask for any more."""
        raw_cutoff = now - timedelta(hours=raw_retention_hours)
        async with self.factory() as session:
            old = (
                (
                    await session.execute(
                        select(models.ProcessSample).where(
                            col(models.ProcessSample.resolution_seconds) < HOUR,
                            col(models.ProcessSample.recorded_at) < raw_cutoff,
                        )
                    )
                )
                .scalars()
                .all()
            )
            buckets: dict[tuple[str, datetime], list[models.ProcessSample]] = {}
            for row in old:
                hour = observed.aware(row.recorded_at).replace(minute=0, second=0, microsecond=0)
                buckets.setdefault((row.process_id, hour), []).append(row)
            for (process_id, hour), rows in buckets.items():
                session.add(models.ProcessSample(process_id=process_id, recorded_at=hour, resolution_seconds=HOUR,
                                                 **_merged(rows)))  # fmt: skip
                for row in rows:
                    await session.delete(row)
            cutoff = now - timedelta(days=retention_days)
            await session.execute(sa.delete(models.ProcessSample).where(col(models.ProcessSample.recorded_at) < cutoff))
            await session.execute(
                sa.delete(models.ProcessRestart).where(col(models.ProcessRestart.observed_at) < now - timedelta(days=2))
            )
            await session.execute(
                sa.delete(models.WebhookDelivery).where(
                    col(models.WebhookDelivery.status) != "pending", col(models.WebhookDelivery.created_at) < cutoff
                )
            )
            await session.commit()

    # ---- webhook deliveries ----

    async def due_deliveries(self, now: datetime, limit: int = 20) -> list[observing.Delivery]:
        async with self.factory() as session:
            rows = (
                await session.execute(
                    sa.select(models.WebhookDelivery, models.ProcessAlertRules)
                    .join(
                        models.ProcessAlertRules,
                        col(models.ProcessAlertRules.process_id) == col(models.WebhookDelivery.process_id),
                    )
                    .where(
                        col(models.WebhookDelivery.status) == "pending",
                        col(models.WebhookDelivery.next_attempt_at) <= now,
                    )
                    .order_by(col(models.WebhookDelivery.created_at))
                    .limit(limit)
                )
            ).all()
            return [
                observing.Delivery(row.id, row.url, rules.webhook_secret, row.event, row.payload, row.attempts)
                for row, rules in rows
            ]

    async def finish_delivery(
        self, delivery_id: str, now: datetime, *, delivered: bool, status_code: int | None, error: str | None,
        retry_at: datetime | None,
    ) -> None:  # fmt: skip
        async with self.factory() as session:
            row = await session.get(models.WebhookDelivery, delivery_id)
            if row is None:
                return
            row.attempts += 1
            row.last_status_code = status_code
            row.last_error = error
            if delivered:
                row.status, row.delivered_at = "delivered", now
            elif retry_at is None:
                row.status = "failed"
            else:
                row.next_attempt_at = retry_at
            await session.commit()


def _merged(rows: Sequence[models.ProcessSample]) -> dict[str, Any]:
    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    cpu = [r.cpu_millicores for r in rows if r.cpu_millicores is not None]
    memory = [float(r.memory_bytes) for r in rows if r.memory_bytes is not None]
    cpu_pct = [r.cpu_pct for r in rows if r.cpu_pct is not None]
    memory_pct = [r.memory_pct for r in rows if r.memory_pct is not None]
    starts = [r.oldest_start_unix for r in rows if r.oldest_start_unix is not None]
    merged_memory = mean(memory)
    return {
        "count": round(sum(r.count for r in rows) / len(rows)),
        "ready_count": round(sum(r.ready_count for r in rows) / len(rows)),
        "restarts": max(r.restarts for r in rows),
        "cpu_millicores": mean(cpu),
        "memory_bytes": int(merged_memory) if merged_memory is not None else None,
        "cpu_pct": mean(cpu_pct),
        "memory_pct": mean(memory_pct),
        "oldest_start_unix": max(starts) if starts else None,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
