"""Looking across applications: `GET /v1/processes` (search, tags, a time window,
cursor pages) and the instances on a node, on every node, or on nodes picked by label."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.observing import presenter as observing_presenter
from controlplane.api.observing import timeseries
from controlplane.api.observing.schemas import InstanceOut
from controlplane.api.search.schemas import (
    CursorPage,
    NodeInstances,
    NodeInstancesResult,
    ProcessSearchResult,
    ProcessSummary,
    SearchMeta,
)
from controlplane.api.wire import from_row
from controlplane.domain import clock, naming, observed
from controlplane.domain.errors import FieldError, NotFound, ValidationFailed
from controlplane.domain.tenancy import TeamScope
from controlplane.store import models, repository

MAX_PAGE = 100
DEFAULT_PAGE = 25
SEARCH_MAX = 200
TAG_NAMES = ("application", "process", "type", "status", "resource_type", "node")
ALL_NODES, ANY_NODE = "_all", "_any"


def parse_tags(raw: str | None) -> list[tuple[str, str]] | FieldError:
    if raw is None or not raw.strip():
        return []
    tags = []
    for item in raw.split(","):
        name, sep, value = item.strip().partition(":")
        if not sep or not name or not value:
            return FieldError("tags", "invalid_format", f"{item.strip()!r} is not a key:value tag")
        if name not in TAG_NAMES:
            return FieldError("tags", "unknown_tag", f"{name!r} is not a tag; use {', '.join(TAG_NAMES)}")
        tags.append((name, value))
    return tags


def tags_of(
    process: models.Process, app: models.Application, resource_type: models.ResourceType, state: str
) -> list[str]:
    return [
        f"application:{app.name}",
        f"process:{process.key}",
        f"type:{process.type}",
        f"status:{state}",
        f"resource_type:{resource_type.name}",
    ]


class ProcessSearch:
    """Across applications, but only those of the caller's team (every team's for an operator)."""

    def __init__(self, session: AsyncSession, scope: TeamScope) -> None:
        self.session = session
        self.scope = scope

    async def search(
        self,
        *,
        search: str | None,
        tags: str | None,
        raw_from: str | None,
        raw_to: str | None,
        limit: int,
        cursor: str | None,
    ) -> ProcessSearchResult:
        errors: list[FieldError] = []
        if search is not None and len(search) > SEARCH_MAX:
            errors.append(FieldError("search", "too_long", f"must be at most {SEARCH_MAX} characters"))
        parsed_tags = parse_tags(tags)
        if isinstance(parsed_tags, FieldError):
            errors.append(parsed_tags)
        window = None
        if raw_from is not None or raw_to is not None:
            found = timeseries.window(raw_from, raw_to, clock.utcnow())
            if isinstance(found, list):
                errors += found
            else:
                window = found
        if not 1 <= limit <= MAX_PAGE:
            errors.append(FieldError("page[limit]", "out_of_range", f"must be between 1 and {MAX_PAGE}"))
        after = timeseries.decode_cursor(cursor) if cursor is not None else None
        if isinstance(after, FieldError):
            errors.append(after)
        if errors:
            raise ValidationFailed(errors)
        assert not isinstance(parsed_tags, FieldError)
        assert not isinstance(after, FieldError)
        criteria = repository.SearchFilter(
            scope=self.scope, search=search or None, tags=parsed_tags, window=window, after=after, limit=limit + 1
        )
        rows = await repository.search_processes(self.session, criteria)
        page, more = rows[:limit], len(rows) > limit
        now = clock.utcnow()
        readings = await repository.readings_of(self.session, [process for process, *_ in page])
        data = []
        for process, app, resource_type, state in page:
            seen = readings[process.id]
            beat, sample = seen.heartbeat, seen.last_sample
            data.append(
                from_row(
                    ProcessSummary,
                    process,
                    application=app.name,
                    status=state,
                    tags=tags_of(process, app, resource_type, state),
                    instances=sample.count if sample else None,
                    ready_instances=seen.status.ready_instances if seen.status else 0,
                    last_sample_at=naming.timestamp(sample.recorded_at) if sample else None,
                    heartbeat=observed.heartbeat_status(beat.status, beat.next_heartbeat_at, now) if beat else None,
                )
            )
        last = page[-1][0] if page and more else None
        after_cursor = timeseries.encode_cursor(last.created_at, last.id) if last is not None else None
        return ProcessSearchResult(data=data, meta=SearchMeta(page=CursorPage(after=after_cursor, size=len(data))))

    async def node_instances(self, node: str) -> NodeInstancesResult:
        """`node` is a node name, `_all` (every node), `_any` (one node that runs an instance) or a
        `key:value` label selector. Nodes are the cluster's, shared by every team; the instances
        listed on them are the caller's team's only."""
        nodes = list(await repository.cluster_nodes(self.session))
        if node in (ALL_NODES, ANY_NODE):
            chosen = nodes
        elif ":" in node:
            key, _, value = node.partition(":")
            if not key or ":" in value:
                raise ValidationFailed([FieldError("node", "invalid_selector", "a label selector is key:value")])
            chosen = [n for n in nodes if n.node_labels.get(key) == value]
        else:
            chosen = [n for n in nodes if n.name == node]
            if not chosen:
                raise NotFound(f"Node {node} is not known (the observer lists the cluster's nodes)")
        rows = await repository.instances_on(self.session, self.scope, [n.name for n in chosen])
        by_node: dict[str, list[InstanceOut]] = {}
        for row in rows:
            by_node.setdefault(row.node or "", []).append(observing_presenter.instance(row))
        if node == ANY_NODE:
            chosen = [n for n in chosen if n.name in by_node][:1]
        return NodeInstancesResult(
            results=[
                NodeInstances(node=n.name, status="ok", ready=n.ready, instances=by_node.get(n.name, []))
                for n in chosen
            ]
        )
