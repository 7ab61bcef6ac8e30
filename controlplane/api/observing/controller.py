"""HTTP surface of what runs: instances, samples, metric series, alert rules, webhook deliveries
and heartbeats of one process."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, put
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from controlplane.api.auth import Principal
from controlplane.api.deps import Pagination
from controlplane.api.observing.heartbeats import HeartbeatService
from controlplane.api.observing.schemas import (
    AlertRulesOut,
    AlertRulesUpdate,
    HeartbeatOut,
    HeartbeatUpdate,
    InstanceList,
    InstanceOut,
    MetricPoint,
    SampleList,
    WebhookDeliveryList,
)
from controlplane.api.observing.service import DEFAULT_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, ObservingService
from controlplane.api.wire import Message

Window = Annotated[str | None, Parameter(required=False, description="Unix seconds or ISO 8601")]


class ObservingController(Controller):
    path = "/applications/{app_id:str}/processes/{process_id:str}"
    tags = ["observing"]

    @get("/instances", summary="The process's instances (its pods) as last observed")
    async def list_instances(
        self, observing: ObservingService, app_id: str, process_id: str, pagination: Pagination
    ) -> InstanceList:
        """Pods as the observer last saw them: node, phase, readiness, restarts, usage."""
        return await observing.instances(app_id, process_id, pagination.offset, pagination.limit)

    @get("/instances/{name:str}", summary="One instance in detail")
    async def get_instance(self, observing: ObservingService, app_id: str, process_id: str, name: str) -> InstanceOut:
        return await observing.instance(app_id, process_id, name)

    @get("/samples", summary="Recent samples (newest first), their total, and restarts in the last 24 hours")
    async def list_samples(
        self, observing: ObservingService, app_id: str, process_id: str, pagination: Pagination
    ) -> SampleList:
        return await observing.samples(app_id, process_id, pagination.offset, pagination.limit)

    @get(
        "/metrics/{metric:str}",
        summary="A metric series: cpu-usage, cpu-limit, memory-usage, memory-limit or instance-count",
    )
    async def get_process_metric(
        self,
        observing: ObservingService,
        app_id: str,
        process_id: str,
        metric: str,
        from_: Annotated[str | None, QueryParameter(name="from", required=False)] = None,
        to: Window = None,
        interval_in_seconds: Annotated[
            int, Parameter(required=False, schema_extra={"minimum": 1, "maximum": MAX_INTERVAL_SECONDS})
        ] = DEFAULT_INTERVAL_SECONDS,
    ) -> list[MetricPoint]:
        return await observing.metric(app_id, process_id, metric, from_, to, interval_in_seconds)

    @get("/alert-rules", summary="Alert rules, which of them fire, and the webhook they notify")
    async def get_alert_rules(
        self, request: Request[Principal, Any, Any], observing: ObservingService, app_id: str, process_id: str
    ) -> AlertRulesOut:
        return await observing.alert_rules(app_id, process_id, show_secret=request.user.can_write)

    @patch("/alert-rules", summary="Change alert rules (flags and thresholds) or the webhook")
    async def update_alert_rules(
        self, observing: ObservingService, app_id: str, process_id: str, data: AlertRulesUpdate
    ) -> AlertRulesOut:
        return await observing.update_alert_rules(app_id, process_id, data)

    @get("/webhook-deliveries", summary="The webhook delivery log, newest first")
    async def list_webhook_deliveries(
        self, observing: ObservingService, app_id: str, process_id: str, pagination: Pagination
    ) -> WebhookDeliveryList:
        """Every alert notification owed to the webhook, with its attempts and last answer."""
        return await observing.deliveries(app_id, process_id, pagination.offset, pagination.limit)

    @get("/heartbeat", summary="The process's heartbeat: ALIVE, DEAD or RESURRECTED")
    async def get_heartbeat(self, heartbeats: HeartbeatService, app_id: str, process_id: str) -> HeartbeatOut:
        return await heartbeats.get(app_id, process_id)

    @put("/heartbeat", summary="Require a heartbeat within an interval; the ping token is shown when issued")
    async def put_heartbeat(
        self, heartbeats: HeartbeatService, app_id: str, process_id: str, data: HeartbeatUpdate
    ) -> HeartbeatOut:
        return await heartbeats.configure(app_id, process_id, data)

    @delete("/heartbeat", summary="Stop requiring a heartbeat", status_code=HTTP_200_OK)
    async def delete_heartbeat(self, heartbeats: HeartbeatService, app_id: str, process_id: str) -> Message:
        await heartbeats.remove(app_id, process_id)
        return Message(f"Process {process_id} no longer requires a heartbeat")
