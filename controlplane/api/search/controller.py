"""HTTP surface across applications: process search with cursor pages, instances by node."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from controlplane.api.search.schemas import NodeInstancesResult, ProcessSearchResult
from controlplane.api.search.service import DEFAULT_PAGE, MAX_PAGE, SEARCH_MAX, ProcessSearch
from controlplane.domain.errors import NotFound


class ProcessSearchController(Controller):
    path = "/processes"
    tags = ["observing"]

    @get("/", summary="Every process the key may see, by search text, tags and time window, in cursor pages")
    async def search_processes(
        self,
        searching: ProcessSearch,
        search: Annotated[str | None, QueryParameter(schema_extra={"max_length": SEARCH_MAX}, required=False)] = None,
        tags: str | None = None,
        from_: Annotated[str | None, QueryParameter(name="from", required=False)] = None,
        to: str | None = None,
        page_limit: Annotated[
            int, QueryParameter(name="page[limit]", required=False, schema_extra={"minimum": 1, "maximum": MAX_PAGE})
        ] = DEFAULT_PAGE,
        page_cursor: Annotated[str | None, QueryParameter(name="page[cursor]", required=False)] = None,
    ) -> ProcessSearchResult:
        return await searching.search(
            search=search, tags=tags, raw_from=from_, raw_to=to, limit=page_limit, cursor=page_cursor
        )


class NodeController(Controller):
    path = "/nodes"
    tags = ["observing"]

    # A path parameter, because label keys hold slashes (topology.kubernetes.io/zone:zone-a).
    @get(
        "/{route:path}",
        summary="GET /v1/nodes/{node}/instances: instances on a node, on every node (_all), on one that runs "
        "any (_any), or on the nodes with a label (key:value)",
    )
    async def list_node_instances(self, searching: ProcessSearch, route: str) -> NodeInstancesResult:
        node, sep, rest = route.strip("/").rpartition("/")
        if not sep or rest != "instances" or not node:
            raise NotFound(f"No route /v1/nodes{route}")
        return await searching.node_instances(node)
