"""Informers: one list-then-watch per kind keeps an in-memory copy of every object procplane owns,
so a reconcile pass reads from memory and a converged pass sends no request at all.

Each informer runs in its own thread (the watch is a blocking stream), re-lists when the
apiserver answers 410 Gone, backs off on errors, and hands every change to `on_change` so the
owning application is queued again: that is how hand edits get reverted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler.k8s import errors
from reconciler.k8s.client import Kube, NotFoundError

logger = logging.getLogger("procplane.cache")

ObjectKey = tuple[str, str]  # (namespace, name)


class Informer:
    def __init__(
        self,
        kube: Kube,
        kind: str,
        *,
        label_selector: str | None,
        on_change: Callable[[dict[str, Any]], None],
        watch_timeout: int = 300,
    ) -> None:
        self.kube = kube
        self.kind = kind
        self.label_selector = label_selector
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer-{kind}", daemon=True)

    # ---- reads (any thread) ----

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def select(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [obj for obj in self._objects.values() if predicate(obj)]

    def remember(self, obj: dict[str, Any]) -> None:
        """Write-through of what a write returned, so the next pass does not act on a stale copy."""
        self._store(obj)

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._objects.pop((namespace, name), None)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    # ---- lifecycle ----

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _store(self, obj: dict[str, Any]) -> bool:
        """Keep the newer copy; True when the stored object changed."""
        metadata = obj.get("metadata", {})
        key = (metadata.get("namespace", ""), metadata.get("name", ""))
        obj.setdefault("kind", self.kind)
        with self._lock:
            current = self._objects.get(key)
            if current is not None and _newer_or_same(current, obj):
                return False
            self._objects[key] = obj
            return True

    def _relist(self) -> str:
        items, resource_version = self.kube.list(self.kind, label_selector=self.label_selector)
        fresh = {(i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in items}
        with self._lock:
            gone = [obj for key, obj in self._objects.items() if key not in fresh]
            self._objects = fresh
        for obj in [*items, *gone]:
            self.on_change(obj)
        self._synced.set()
        return resource_version

    def _run(self) -> None:
        backoff = 0.5
        resource_version: str | None = None
        while not self._stopped.is_set():
            try:
                if resource_version is None:
                    resource_version = self._relist()
                for event in self.kube.watch(
                    self.kind, resource_version, label_selector=self.label_selector, timeout_seconds=self.watch_timeout
                ):
                    if self._stopped.is_set():
                        return
                    obj = event["object"]
                    resource_version = obj["metadata"].get("resourceVersion", resource_version)
                    if event["type"] == "BOOKMARK":
                        continue
                    if event["type"] == "DELETED":
                        self.forget(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                        self.on_change(obj)
                    elif self._store(obj):
                        self.on_change(obj)
                backoff = 0.5
            except errors.Gone:
                resource_version = None
            except NotFoundError:
                # The cluster stopped serving the kind: its CRD was removed after start-up (the
                # start-up check refuses a cluster without them). Say so, not a stack trace.
                logger.error(
                    "the cluster does not serve %s (were procplane's CRDs removed?): install them with the Helm"
                    " chart or `kubectl apply -f crds/`; retrying in %.1fs", self.kind, backoff,
                )  # fmt: skip
                resource_version = None
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:  # a watch must outlive any error; the loop re-lists after a pause
                logger.exception("watch on %s failed; retrying in %.1fs", self.kind, backoff)
                resource_version = None
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)


def _newer_or_same(current: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """resourceVersions are opaque, but etcd-backed servers hand out increasing integers; when
    both parse, an older event must not overwrite a newer write-through copy."""
    try:
        return int(current["metadata"]["resourceVersion"]) >= int(candidate["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return False


class ClusterCache:
    """The informers of every kind procplane owns or reads, keyed by kind."""

    def __init__(self, kube: Kube, kinds: dict[str, str | None], on_change: Callable[[dict[str, Any]], None]) -> None:
        self.informers = {
            kind: Informer(kube, kind, label_selector=selector, on_change=on_change) for kind, selector in kinds.items()
        }

    def start(self, timeout: float = 60.0) -> None:
        for informer in self.informers.values():
            informer.start()
        deadline = time.monotonic() + timeout
        for informer in self.informers.values():
            if not informer.wait_synced(max(0.0, deadline - time.monotonic())):
                raise errors.TemporaryError(f"the {informer.kind} cache did not sync within {timeout:.0f}s")

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def __getitem__(self, kind: str) -> Informer:
        return self.informers[kind]
