"""The informer cache, against `FakeKube`'s scripted lists and watch streams.

An informer's loop (`Informer._run`) is driven synchronously on the test's thread: the fake
replays the scripted watch streams, and once they are used up it stops the informer, so the loop
returns. Only the `ClusterCache.start` tests run the informers' own threads, and those wait on
events that are set at once, never on the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.k8s import errors
from reconciler.k8s.cache import ClusterCache, Informer
from reconciler.k8s.client import NotFoundError
from tests.unit.fakes import FakeKube, FakeStopEvent, stream, watch_event

MANAGED = "app.kubernetes.io/managed-by=procplane"
# Far above what any step here takes; reached only when the cache is broken.
TIMEOUT = 5.0


def deployment(name: str, version: int | str, *, namespace: str = "shop", replicas: int = 1) -> dict[str, Any]:
    """A Deployment as a watch event carries it: no `kind`, like the objects of a list."""
    return {
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(version),
            "labels": {"app.kubernetes.io/managed-by": "procplane"},
        },
        "spec": {"replicas": replicas},
    }


def seeded(kube: FakeKube, *objects: dict[str, Any]) -> None:
    for obj in objects:
        kube.put({"kind": "Deployment", **obj})


class Changes:
    """What the informer handed to `on_change`, as (name, resourceVersion)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, obj: dict[str, Any]) -> None:
        self.seen.append((obj["metadata"]["name"], obj["metadata"].get("resourceVersion", "")))


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def informer(kube: FakeKube, changes: Changes) -> Informer:
    made = Informer(kube, "Deployment", label_selector=MANAGED, on_change=changes)
    # Once the scripted streams are used up, stop: the loop then returns instead of watching on.
    kube.on_watch_idle = lambda kind: made.stop()
    return made


def block_until(event: threading.Event) -> Callable[[str], None]:
    def block(kind: str) -> None:
        event.wait(TIMEOUT)

    return block


def script(kube: FakeKube, *streams: Iterator[dict[str, Any]]) -> None:
    kube.watch_streams["Deployment"].extend(streams)


def names(informer: Informer) -> dict[str, str]:
    """name -> resourceVersion of every cached object."""
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.select(lambda o: True)}


def test_serves_what_it_listed_through_its_label_selector(kube: FakeKube, informer: Informer, changes: Changes) -> None:
    seeded(kube, deployment("web", 0), deployment("api", 0, namespace="other"))
    kube.put({"kind": "Deployment", "metadata": {"name": "foreign", "namespace": "shop"}, "spec": {}})
    assert not informer.synced

    informer._run()

    assert informer.synced
    assert kube.lists == [("Deployment", MANAGED)]
    web = informer.get("shop", "web")
    assert web is not None
    assert web["kind"] == "Deployment"
    assert web["spec"] == {"replicas": 1}
    assert informer.get("other", "api") is not None
    assert informer.get("shop", "api") is None  # keyed by namespace and name
    assert informer.get("shop", "foreign") is None  # not procplane's: the selector left it out
    assert changes.seen == [("api", "102"), ("web", "101")]
    # The watch starts where the list left off.
    assert kube.watches[0] == ("Deployment", str(kube.revision), MANAGED)


def test_applies_watch_events_in_order_and_resumes_from_the_last_version(
    kube: FakeKube, informer: Informer, changes: Changes
) -> None:
    script(
        kube,
        stream(
            watch_event("ADDED", deployment("web", 201)),
            watch_event("MODIFIED", deployment("web", 202, replicas=3)),
            watch_event("ADDED", deployment("worker", 203)),
            watch_event("DELETED", deployment("web", 204, replicas=3)),
            watch_event("MODIFIED", deployment("worker", 205, replicas=2)),
        ),
    )

    informer._run()

    assert changes.seen == [("web", "201"), ("web", "202"), ("worker", "203"), ("web", "204"), ("worker", "205")]
    assert informer.get("shop", "web") is None
    worker = informer.get("shop", "worker")
    assert worker is not None
    assert worker["spec"] == {"replicas": 2}
    assert worker["kind"] == "Deployment"  # filled in: watch events omit it
    # A stream the server closed is resumed from the last event, without listing again.
    assert [version for _, version, _ in kube.watches] == ["100", "205"]
    assert len(kube.lists) == 1


def test_bookmarks_move_the_resume_point_and_change_nothing(
    kube: FakeKube, informer: Informer, changes: Changes
) -> None:
    seeded(kube, deployment("web", 0))
    script(kube, stream(watch_event("BOOKMARK", {"metadata": {"resourceVersion": "250"}})))

    informer._run()

    assert changes.seen == [("web", "101")]  # the list only
    assert names(informer) == {"web": "101"}
    assert [version for _, version, _ in kube.watches] == ["101", "250"]


def test_drops_events_older_than_the_copy_it_holds(kube: FakeKube, informer: Informer, changes: Changes) -> None:
    seeded(kube, deployment("web", 0, replicas=1))  # listed at resourceVersion 101
    script(
        kube,
        stream(
            watch_event("MODIFIED", deployment("web", 99, replicas=9)),
            watch_event("MODIFIED", deployment("web", 101, replicas=8)),
            watch_event("MODIFIED", deployment("web", 120, replicas=2)),
        ),
    )

    informer._run()

    assert changes.seen == [("web", "101"), ("web", "120")]
    web = informer.get("shop", "web")
    assert web is not None
    assert web["spec"] == {"replicas": 2}


def test_a_write_through_copy_is_not_overwritten_by_an_older_event(
    kube: FakeKube, informer: Informer, changes: Changes
) -> None:
    seeded(kube, deployment("web", 0))  # listed at resourceVersion 101

    def procplane_applies() -> None:
        # The apply returned version 300 and was remembered before the watch delivered 299.
        informer.remember({"kind": "Deployment", **deployment("web", 300, replicas=4)})

    script(
        kube,
        stream(
            watch_event("MODIFIED", deployment("web", 299, replicas=1)),
            watch_event("MODIFIED", deployment("web", 301, replicas=5)),
            before=procplane_applies,
        ),
    )

    informer._run()

    assert changes.seen == [("web", "101"), ("web", "301")]
    web = informer.get("shop", "web")
    assert web is not None
    assert web["spec"] == {"replicas": 5}


def test_remember_and_forget_write_through() -> None:
    informer = Informer(FakeKube(), "Deployment", label_selector=None, on_change=lambda obj: None)

    informer.remember({"kind": "Deployment", **deployment("web", 7)})
    assert names(informer) == {"web": "7"}
    # An older copy is refused even through `remember`; a newer one replaces it.
    informer.remember({"kind": "Deployment", **deployment("web", 6, replicas=6)})
    informer.remember({"kind": "Deployment", **deployment("web", 8, replicas=8)})
    web = informer.get("shop", "web")
    assert web is not None
    assert web["spec"] == {"replicas": 8}

    informer.forget("shop", "web")
    assert informer.get("shop", "web") is None
    informer.forget("shop", "web")  # forgetting what is not there is no error


def test_opaque_resource_versions_are_not_compared() -> None:
    informer = Informer(FakeKube(), "Deployment", label_selector=None, on_change=lambda obj: None)

    informer.remember({"kind": "Deployment", **deployment("web", "b7", replicas=1)})
    informer.remember({"kind": "Deployment", **deployment("web", "a3", replicas=2)})

    # Not integers, so no order can be known: the latest copy received wins.
    assert names(informer) == {"web": "a3"}


def test_relists_after_410_gone_and_drops_what_disappeared(
    kube: FakeKube, informer: Informer, changes: Changes
) -> None:
    seeded(kube, deployment("web", 0), deployment("worker", 0))  # versions 101, 102

    def while_disconnected() -> None:
        kube.edit("Deployment", "shop", "worker", lambda obj: obj["spec"].update(replicas=3))
        kube.delete("Deployment", "shop", "web")
        seeded(kube, deployment("cron-runner", 0))

    script(kube, stream(before=while_disconnected, then=errors.Gone("too old resource version: 102 (150)")))

    informer._run()

    assert len(kube.lists) == 2
    assert names(informer) == {"worker": "103", "cron-runner": "104"}
    # Every object of the new list, and the one that vanished, go to on_change (queued again).
    assert changes.seen[2:] == [("cron-runner", "104"), ("worker", "103"), ("web", "101")]
    # No pause before re-listing: a 410 is routine, not a failure.
    assert [version for _, version, _ in kube.watches] == ["102", "104"]


def test_backs_off_on_errors_doubling_to_30s_and_resets_after_a_good_stream(kube: FakeKube, informer: Informer) -> None:
    stopped = FakeStopEvent()
    informer._stopped = stopped
    failures = [stream(then=errors.TemporaryError("connection reset")) for _ in range(8)]
    script(kube, *failures, stream(), stream(then=errors.TemporaryError("connection reset")))

    informer._run()

    assert stopped.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 0.5]
    # After each failure the informer lists again rather than trusting its resume point.
    assert len(kube.lists) == 1 + 9


def test_a_failed_list_is_retried_after_a_pause(kube: FakeKube, informer: Informer) -> None:
    stopped = FakeStopEvent()
    informer._stopped = stopped
    kube.faults["list"].append(errors.TemporaryError("GET deployments: 503"))
    seeded(kube, deployment("web", 0))

    informer._run()

    assert stopped.waits == [0.5]
    assert len(kube.lists) == 2
    assert informer.synced
    assert names(informer) == {"web": "101"}


def test_a_kind_the_cluster_stopped_serving_is_named_with_the_fix(
    kube: FakeKube, informer: Informer, caplog: pytest.LogCaptureFixture
) -> None:
    stopped = FakeStopEvent()
    informer._stopped = stopped
    kube.faults["list"] += [NotFoundError("the server could not find the requested resource")] * 2

    informer._run()

    assert stopped.waits == [0.5, 1.0]
    assert informer.synced
    refused = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(refused) == 2
    assert all("does not serve Deployment" in r.getMessage() and "CRDs" in r.getMessage() for r in refused)
    assert all(r.exc_info is None for r in refused)


def test_stop_takes_effect_between_events(kube: FakeKube, informer: Informer, changes: Changes) -> None:
    def stop_at_once(obj: dict[str, Any]) -> None:
        changes(obj)
        informer.stop()

    informer.on_change = stop_at_once
    script(kube, stream(watch_event("ADDED", deployment("web", 201)), watch_event("ADDED", deployment("api", 202))))

    informer._run()

    assert changes.seen == [("web", "201")]
    assert informer.get("shop", "api") is None


def test_cluster_cache_has_one_informer_per_kind_with_its_selector(kube: FakeKube) -> None:
    cache = ClusterCache(kube, {"Deployment": MANAGED, "Pod": "procplane.dev/process-id"}, lambda obj: None)

    assert sorted(cache.informers) == ["Deployment", "Pod"]
    assert cache["Deployment"].kind == "Deployment"
    assert cache["Deployment"].label_selector == MANAGED
    assert cache["Pod"].label_selector == "procplane.dev/process-id"
    with pytest.raises(KeyError):
        cache["Secret"]


def test_cluster_cache_start_returns_once_every_kind_is_listed(kube: FakeKube) -> None:
    seeded(kube, deployment("web", 0))
    kube.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop",
              "labels": {"procplane.dev/process-id": "p1"}}})  # fmt: skip
    released = threading.Event()
    # The watches block until the test is over, as a quiet cluster's would.
    kube.on_watch_idle = block_until(released)
    cache = ClusterCache(kube, {"Deployment": MANAGED, "Pod": "procplane.dev/process-id"}, lambda obj: None)
    try:
        cache.start(timeout=TIMEOUT)

        assert all(informer.synced for informer in cache.informers.values())
        assert cache["Deployment"].get("shop", "web") is not None
        assert cache["Pod"].get("shop", "web-1") is not None
        assert sorted(kube.lists) == [("Deployment", MANAGED), ("Pod", "procplane.dev/process-id")]
    finally:
        cache.stop()
        released.set()
    for informer in cache.informers.values():
        informer._thread.join(TIMEOUT)
        assert not informer._thread.is_alive()


def test_cluster_cache_start_fails_when_a_kind_does_not_sync_in_time(kube: FakeKube) -> None:
    released = threading.Event()
    kube.on_list = block_until(released)
    kube.on_watch_idle = block_until(released)
    cache = ClusterCache(kube, {"Deployment": MANAGED}, lambda obj: None)
    try:
        with pytest.raises(errors.TemporaryError, match="the Deployment cache did not sync within 0s"):
            cache.start(timeout=0.0)
        assert not cache["Deployment"].synced
    finally:
        cache.stop()
        released.set()
    cache["Deployment"]._thread.join(TIMEOUT)
    assert not cache["Deployment"]._thread.is_alive()
