"""Named fakes for the reconciler's unit tests: no cluster, no network, no wall-clock sleeps.

`FakeKube` is an in-memory apiserver behind the `Kube` interface: it stores objects, stamps the
fields the apiserver owns (uid, resourceVersion, generation), answers optimistic-concurrency
conflicts, replays scripted watch streams and records every write request it receives.
`FakeClock` is a monotonic and a wall clock that move only when a test advances them."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.k8s import errors
from reconciler.k8s.client import KINDS, Kube, NotFoundError, object_key

ObjectKey = tuple[str, str, str]  # (kind, namespace, name); namespace "" when cluster-scoped
# Fields the apiserver writes into metadata; `FakeKube.declared` strips them again.
SERVER_METADATA = ("uid", "resourceVersion", "generation")


class FakeClock:
    """Fake: `monotonic` and `wall` advance together, and only through `advance`."""

    def __init__(self, start: datetime = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) -> None:
        self.elapsed = 0.0
        self._start = start

    def monotonic(self) -> float:
        # Offset from zero so that no test passes merely because a default of 0.0 lines up.
        return 1000.0 + self.elapsed

    def wall(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed)

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock never goes back"
        self.elapsed += seconds


class FakeStopEvent(threading.Event):
    """Fake: a stop event whose `wait` records the requested pause and returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None, "an unbounded wait would hang the test"
        self.waits.append(timeout)
        return self.is_set()


@dataclass(frozen=True)
class WriteRequest:
    """One write the fake received, in the order received."""

    verb: str  # apply | create | update | delete, as `RequestCounter` names them
    kind: str
    namespace: str
    name: str
    subresource: str | None = None
    body: dict[str, Any] | None = None

    @property
    def key(self) -> ObjectKey:
        return self.kind, self.namespace, self.name


def watch_event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "object": obj}


def stream(
    *events: dict[str, Any], before: Callable[[], None] | None = None, then: Exception | None = None
) -> Iterator[dict[str, Any]]:
    """A scripted watch stream: run `before` (a change made while no one watched), yield
    `events`, then end the stream by raising `then` (a 410 Gone, a dropped connection) or not."""
    if before is not None:
        before()
    yield from events
    if then is not None:
        raise then


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    """`key=value` and `key` (exists) terms, comma-separated: what procplane's informers use."""
    for term in (selector or "").split(","):
        if not term:
            continue
        if "!" in term or " in " in term:
            raise AssertionError(f"FakeKube does not understand the selector term {term!r}")
        key, equals, value = term.partition("=")
        if key not in labels or (equals and labels[key] != value):
            return False
    return True


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    """What a generation counts: everything but metadata and status."""
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


class FakeKube(Kube):
    """Fake: an in-memory apiserver behind the `Kube` interface.

    Server-side apply stores the applied manifest as the object (keeping its uid and status);
    an apply to the `status` subresource changes only the status. `replace` checks the sent
    resourceVersion (409 Conflict on a mismatch), `create` refuses an existing object. Every
    write, refused or not, is recorded in `writes` and counted in `requests`, as `Kube` counts.
    `edit` and `put` change objects as someone else would (kubectl, another replica): they are
    not recorded as procplane's writes."""

    def __init__(self) -> None:
        super().__init__(api_client=None)
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        self.writes: list[WriteRequest] = []
        self.lists: list[tuple[str, str | None]] = []  # (kind, label selector)
        self.watches: list[tuple[str, str, str | None]] = []  # (kind, from resourceVersion, selector)
        # Per kind, the streams successive watch requests replay; see `stream`.
        self.watch_streams: dict[str, list[Iterable[dict[str, Any]]]] = defaultdict(list)
        # Called instead of streaming once a kind's scripted streams are used up.
        self.on_watch_idle: Callable[[str], None] = lambda kind: None
        self.on_list: Callable[[str], None] = lambda kind: None
        # Per verb, errors the next requests of that verb raise instead of being served.
        self.faults: dict[str, list[errors.ReconcileError]] = defaultdict(list)
        # (kind, name) -> the message of a 422 every apply of that object gets.
        self.refusals: dict[tuple[str, str], str] = {}
        self.revision = 100
        self._uids = 0

    # ---- helpers for tests ----

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or overwrite an object as another client would; the stored copy."""
        return self._store(copy.deepcopy(obj))

    def edit(self, kind: str, namespace: str, name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """A hand edit (kubectl edit): `change` mutates a copy of the live object."""
        obj = copy.deepcopy(self.objects[(kind, namespace, name)])
        change(obj)
        return self._store(obj)

    def declared(self, key: ObjectKey) -> dict[str, Any]:
        """The stored object without what the apiserver adds: comparable with a rendered manifest."""
        obj = copy.deepcopy(self.objects[key])
        obj.pop("status", None)
        for field in SERVER_METADATA:
            obj["metadata"].pop(field, None)
        return obj

    def write_keys(self) -> list[tuple[str, str, str, str]]:
        """(verb, kind[/subresource], namespace, name) of every write, in order."""
        return [
            (w.verb, f"{w.kind}/{w.subresource}" if w.subresource else w.kind, w.namespace, w.name) for w in self.writes
        ]

    # ---- the store ----

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.setdefault("metadata", {})
        key: ObjectKey = (obj["kind"], metadata.get("namespace", ""), metadata["name"])
        previous = self.objects.get(key)
        self.revision += 1
        metadata["resourceVersion"] = str(self.revision)
        if previous is None:
            self._uids += 1
            metadata.setdefault("uid", f"uid-{self._uids:04d}")
            metadata["generation"] = 1
        else:
            metadata["uid"] = previous["metadata"]["uid"]
            changed = _content(previous) != _content(obj)
            metadata["generation"] = previous["metadata"]["generation"] + (1 if changed else 0)
        self.objects[key] = obj
        return copy.deepcopy(obj)

    def _write(self, verb: str, kind: str, namespace: str | None, name: str, **details: Any) -> None:
        if not self.write_allowed():
            raise errors.NotLeader(f"refusing to {verb} {kind} {name}: this replica does not hold the lease")
        self.writes.append(WriteRequest(verb, kind, namespace or "", name, **copy.deepcopy(details)))
        self._request(verb)

    def _request(self, verb: str) -> None:
        self.requests.add(verb)
        if self.faults[verb]:
            raise self.faults[verb].pop(0)

    # ---- reads ----

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self._request("get")
        found = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def watch(
        self, kind: str, resource_version: str, *, label_selector: str | None = None, **_: Any
    ) -> Iterator[dict[str, Any]]:
        self.watches.append((kind, resource_version, label_selector))
        self._request("watch")
        if not self.watch_streams[kind]:
            self.on_watch_idle(kind)
            return
        for event in self.watch_streams[kind].pop(0):
            yield copy.deepcopy(event)

    # ---- writes ----

    def apply(self, manifest: dict[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        kind, namespace, name = key = object_key(manifest)
        self._write("apply", kind, namespace, name, subresource=subresource, body=manifest)
        if (kind, name) in self.refusals:
            raise errors.PermanentError(f"PATCH {kind} {name}: {self.refusals[(kind, name)]}", 422)
        live = self.objects.get(key)
        if subresource == "status":
            if live is None:
                raise NotFoundError(f"{kind} {name} not found")
            updated = copy.deepcopy(live)
            updated["status"] = copy.deepcopy(manifest["status"])
            return self._store(updated)
        assert subresource is None, f"FakeKube does not serve the {subresource} subresource"
        obj = copy.deepcopy(manifest)
        # Status belongs to its subresource: an apply of the object itself leaves it alone.
        obj.pop("status", None)
        if live is not None and "status" in live:
            obj["status"] = copy.deepcopy(live["status"])
        return self._store(obj)

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        kind, namespace, name = key = object_key(manifest)
        self._write("create", kind, namespace, name, body=manifest)
        if key in self.objects:
            raise errors.Conflict(f"POST {kind}: {name} already exists")
        return self._store(copy.deepcopy(manifest))

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        kind, namespace, name = key = object_key(manifest)
        self._write("update", kind, namespace, name, body=manifest)
        live = self.objects.get(key)
        if live is None:
            raise NotFoundError(f"{kind} {name} not found")
        if manifest["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            raise errors.Conflict(f"PUT {kind} {name}: the object has been modified")
        return self._store(copy.deepcopy(manifest))

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        self._write("delete", kind, namespace, name)
        return self.objects.pop((kind, namespace or "", name), None) is not None

    # Last, so that `list` in the annotations above still means the builtin.
    def list(
        self, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        self.on_list(kind)
        self.lists.append((kind, label_selector))
        self._request("list")
        assert kind in KINDS, f"unknown kind {kind}"
        items = [
            copy.deepcopy(obj)
            for (obj_kind, obj_namespace, _), obj in sorted(self.objects.items())
            if obj_kind == kind
            and (namespace is None or obj_namespace == namespace)
            and _matches(obj["metadata"].get("labels") or {}, label_selector)
        ]
        return items, str(self.revision)
