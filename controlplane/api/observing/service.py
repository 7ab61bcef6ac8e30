"""Reading what the observer recorded: instances, samples, metric series, alert rules and their
notifications. The API never asks the cluster; the reconciler's observer writes all of this."""

from __future__ import annotations

from datetime import timedelta

from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.observing import presenter, timeseries
from controlplane.api.observing.alert_rules import alert_rules_errors
from controlplane.api.observing.schemas import (
    AlertRulesOut,
    AlertRulesUpdate,
    InstanceList,
    InstanceOut,
    MetricPoint,
    SampleList,
    WebhookDeliveryList,
)
from controlplane.domain import naming, observed, webhook_targets
from controlplane.domain.clock import utcnow
from controlplane.domain.errors import FieldError, NotFound, ValidationFailed
from controlplane.domain.settings import Settings
from controlplane.domain.tenancy import TeamScope
from controlplane.store import lookup, models, repository

RECENT_SAMPLES = 100
RESTART_WINDOW = timedelta(hours=24)
MAX_INTERVAL_SECONDS = 86_400
DEFAULT_INTERVAL_SECONDS = 60
DEFAULT_METRIC_SPAN = timedelta(hours=1)
# How long setting a webhook URL waits for its name to resolve. A name that does not resolve in
# time, or at all, is accepted: the receiver's record may not exist yet, and every delivery
# resolves and checks again before it connects, so nothing is sent to a refused address anyway.
WEBHOOK_RESOLVE_TIMEOUT_SECONDS = 2.0


class ObservingService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        scope: TeamScope,
        resolver: webhook_targets.Resolver = webhook_targets.system_resolver,
    ) -> None:
        self.session = session
        self.settings = settings
        self.scope = scope
        self.resolver = resolver

    async def process(self, app_id: str, process_id: str) -> models.Process:
        return await lookup.process(self.session, self.scope, app_id, process_id)

    async def instances(self, app_id: str, process_id: str, offset: int, limit: int) -> InstanceList:
        row = await self.process(app_id, process_id)
        rows, total = await repository.instances_of(self.session, row.id, offset, limit)
        return InstanceList(data=[presenter.instance(i) for i in rows], total=total, offset=offset, limit=limit)

    async def instance(self, app_id: str, process_id: str, name: str) -> InstanceOut:
        row = await self.process(app_id, process_id)
        found = await repository.get_instance(self.session, row.id, name)
        if found is None:
            raise NotFound(f"Process {process_id} has no instance {name}")
        return presenter.instance(found)

    async def samples(self, app_id: str, process_id: str, offset: int, limit: int) -> SampleList:
        row = await self.process(app_id, process_id)
        rows, total = await repository.recent_samples(self.session, row.id, offset, limit)
        restarts = await repository.restarts_since(self.session, row.id, utcnow() - RESTART_WINDOW)
        return SampleList(
            data=[presenter.sample(s) for s in rows],
            total=total,
            offset=offset,
            limit=limit,
            recent_restarts=restarts,
        )

    async def metric(
        self, app_id: str, process_id: str, metric: str, raw_from: str | None, raw_to: str | None, interval: int
    ) -> list[MetricPoint]:
        if metric not in timeseries.METRICS:
            raise NotFound(f"Unknown metric {metric!r}; one of {', '.join(timeseries.METRICS)}")
        errors: list[FieldError] = []
        if not 1 <= interval <= MAX_INTERVAL_SECONDS:
            errors.append(
                FieldError("interval_in_seconds", "out_of_range", f"must be between 1 and {MAX_INTERVAL_SECONDS}")
            )
        span = timeseries.window(raw_from, raw_to, utcnow(), DEFAULT_METRIC_SPAN)
        if isinstance(span, list):
            errors += span
        if errors:
            raise ValidationFailed(errors)
        assert not isinstance(span, list)
        start, end = span
        if timeseries.point_count(start, end, interval) > timeseries.MAX_POINTS:
            raise ValidationFailed(
                [
                    FieldError(
                        "interval_in_seconds",
                        "too_many_points",
                        f"the window holds more than {timeseries.MAX_POINTS} intervals; widen the interval",
                    )
                ]
            )
        row = await self.process(app_id, process_id)
        resource_type = await repository.get_resource_type(self.session, row.resource_type_id)
        assert resource_type is not None, "resource_type_id is a foreign key"
        limits = timeseries.Limits(resource_type.cpu_limit, resource_type.memory_limit)
        samples = await repository.samples_between(self.session, row.id, start, end)
        return [
            MetricPoint(time=naming.timestamp(at), value=value)
            for at, value in timeseries.series(metric, samples, start, end, interval, limits)
        ]

    async def alert_rules(self, app_id: str, process_id: str, *, show_secret: bool) -> AlertRulesOut:
        row = await self.process(app_id, process_id)
        rules = await repository.alert_rules_of(self.session, row.id)
        states = await repository.alert_states_of(self.session, row.id)
        return presenter.alert_rules(row.id, rules, states, show_secret=show_secret)

    async def update_alert_rules(self, app_id: str, process_id: str, data: AlertRulesUpdate) -> AlertRulesOut:
        errors = alert_rules_errors(data, self.settings.webhook_policy)
        if errors:
            raise ValidationFailed(errors)
        # Locked: of parallel first updates one creates the rules (and their secret), the others change them.
        await lookup.locked_application(self.session, self.scope, app_id)
        row = await self.process(app_id, process_id)
        if isinstance(data.webhook_url, str):
            await self._check_webhook_name(data.webhook_url)
        rules = await repository.alert_rules_of(self.session, row.id)
        if rules is None:
            rules = models.ProcessAlertRules(
                process_id=row.id, webhook_secret=observed.new_webhook_secret(), updated_at=utcnow()
            )
            self.session.add(rules)
        for name in AlertRulesUpdate.__struct_fields__:
            value = getattr(data, name)
            if name == "rotate_webhook_secret":
                if value is True:
                    rules.webhook_secret = observed.new_webhook_secret()
            elif value is not UNSET:
                setattr(rules, name, float(value) if name.endswith("_pct") else value)
        rules.updated_at = utcnow()
        await self.session.commit()
        states = await repository.alert_states_of(self.session, row.id)
        return presenter.alert_rules(row.id, rules, states, show_secret=True)

    async def _check_webhook_name(self, url: str) -> None:
        """Refuse a webhook URL whose name resolves to an address the policy refuses (the URL's
        form, and a host given as an address, were judged with the other fields)."""
        target = webhook_targets.parse(url)
        if target.addresses:  # an address, or localhost: judged already
            return
        try:
            addresses = await webhook_targets.resolve(target, self.resolver, WEBHOOK_RESOLVE_TIMEOUT_SECONDS)
        except webhook_targets.Unresolved:
            return
        try:
            self.settings.webhook_policy.check(target, addresses)
        except webhook_targets.TargetRefused as exc:
            raise ValidationFailed([FieldError("webhook_url", exc.code, exc.message)]) from None

    async def deliveries(self, app_id: str, process_id: str, offset: int, limit: int) -> WebhookDeliveryList:
        row = await self.process(app_id, process_id)
        rows, total = await repository.deliveries_of(self.session, row.id, offset, limit)
        return WebhookDeliveryList(
            data=[presenter.webhook_delivery(d) for d in rows], total=total, offset=offset, limit=limit
        )
