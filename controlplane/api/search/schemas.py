"""Wire types of search."""

from __future__ import annotations

from controlplane.api.observing.schemas import InstanceOut
from controlplane.api.wire import Response


class ProcessSummary(Response):
    id: str
    app_id: str
    application: str
    key: str
    type: str
    display_name: str
    status: str
    tags: list[str]
    instances: int | None
    ready_instances: int
    last_sample_at: str | None
    heartbeat: str | None
    created_at: str


class CursorPage(Response):
    after: str | None
    size: int


class SearchMeta(Response):
    page: CursorPage


class ProcessSearchResult(Response):
    data: list[ProcessSummary]
    meta: SearchMeta


class NodeInstances(Response):
    node: str
    status: str  # ok: the node is known and its instances are listed
    ready: bool
    instances: list[InstanceOut]


class NodeInstancesResult(Response):
    results: list[NodeInstances]
