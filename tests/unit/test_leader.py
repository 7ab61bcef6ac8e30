"""Leader election over a Lease, against `FakeKube` and driven by a `FakeClock`.

The elector judges expiry by how long *it* has seen the lease unchanged (never by comparing the
holder's renewTime with its own clock), and believes itself leader only until its last successful
renewal is `lease - renew/2` seconds old. Defaults: a 15 s lease renewed every 5 s."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.k8s import errors
from reconciler.k8s.leader import LeaderElector
from tests.unit.fakes import FakeClock, FakeKube

NAMESPACE = "procplane-system"
LEASE = ("Lease", NAMESPACE, "procplane-reconciler")
# A leader trusts its term for lease_seconds - renew_seconds / 2 after the renewal began.
TERM = 15.0 - 5.0 / 2


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def elector(kube: FakeKube, clock: FakeClock, identity: str) -> LeaderElector:
    return LeaderElector(kube, NAMESPACE, identity, monotonic=clock.monotonic, wall_clock=clock.wall)


def stamp(clock: FakeClock) -> str:
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_spec(kube: FakeKube) -> dict[str, Any]:
    spec: dict[str, Any] = kube.objects[LEASE]["spec"]
    return spec


def held_by(kube: FakeKube, holder: str, renew_time: str, transitions: int = 0) -> None:
    """Another replica holds the lease (or has just renewed it)."""
    kube.put(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE[2], "namespace": NAMESPACE},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": 15,
                "acquireTime": "2025-01-01T00:00:00.000000Z",
                "renewTime": renew_time,
                "leaseTransitions": transitions,
            },
        }
    )


def test_acquires_a_free_lease_by_creating_it(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    assert not a.is_leader()

    assert a.try_acquire_or_renew()

    assert a.is_leader()
    assert kube.write_keys() == [("create", "Lease", NAMESPACE, "procplane-reconciler")]
    assert lease_spec(kube) == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": stamp(clock),
        "renewTime": stamp(clock),
        "leaseTransitions": 0,
    }


def test_leadership_lapses_by_itself_before_anyone_else_could_take_over(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    assert a.try_acquire_or_renew()

    clock.advance(TERM - 0.5)
    assert a.is_leader()
    clock.advance(0.5)
    # Without a renewal, the term ends 2.5 s before another replica may take the lease (15 s).
    assert not a.is_leader()
    assert len(kube.writes) == 1


def test_renews_a_held_lease_and_extends_the_term(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    assert a.try_acquire_or_renew()
    acquired = stamp(clock)
    version = kube.objects[LEASE]["metadata"]["resourceVersion"]

    clock.advance(5.0)
    assert a.try_acquire_or_renew()

    renewal = kube.writes[-1]
    assert renewal.verb == "update"
    assert renewal.body is not None
    # Optimistic concurrency: the renewal is sent against the version it read.
    assert renewal.body["metadata"]["resourceVersion"] == version
    assert lease_spec(kube)["holderIdentity"] == "a"
    assert lease_spec(kube)["renewTime"] == stamp(clock)
    assert lease_spec(kube)["acquireTime"] == acquired
    assert lease_spec(kube)["leaseTransitions"] == 0
    # The term now counts from the renewal, not from the acquisition.
    clock.advance(TERM - 0.5)
    assert a.is_leader()
    clock.advance(0.5)
    assert not a.is_leader()


def test_stays_follower_while_the_holder_keeps_renewing(kube: FakeKube, clock: FakeClock) -> None:
    held_by(kube, "b", "2025-01-01T00:00:00.000000Z")
    a = elector(kube, clock, "a")

    for second in range(0, 60, 5):
        assert not a.try_acquire_or_renew()
        assert not a.is_leader()
        clock.advance(5.0)
        # Far more than a lease duration in total, but never 15 s without a change.
        held_by(kube, "b", f"2025-01-01T00:00:{second + 5:02d}.000000Z")

    assert kube.writes == []
    assert lease_spec(kube)["holderIdentity"] == "b"


def test_takes_over_only_after_seeing_the_lease_unchanged_for_a_whole_duration(
    kube: FakeKube, clock: FakeClock
) -> None:
    # A renewTime a year old proves nothing: the clocks of the two nodes may differ.
    held_by(kube, "b", "2024-01-01T00:00:00.000000Z", transitions=3)
    a = elector(kube, clock, "a")

    assert not a.try_acquire_or_renew()
    clock.advance(14.5)
    assert not a.try_acquire_or_renew()
    assert kube.writes == []

    clock.advance(0.5)
    assert a.try_acquire_or_renew()

    assert a.is_leader()
    assert kube.write_keys() == [("update", "Lease", NAMESPACE, "procplane-reconciler")]
    assert lease_spec(kube) == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": stamp(clock),
        "renewTime": stamp(clock),
        "leaseTransitions": 4,
    }


def test_a_renewal_seen_late_restarts_the_expiry_count(kube: FakeKube, clock: FakeClock) -> None:
    held_by(kube, "b", "2025-01-01T00:00:00.000000Z")
    a = elector(kube, clock, "a")
    assert not a.try_acquire_or_renew()

    clock.advance(10.0)
    held_by(kube, "b", "2025-01-01T00:00:10.000000Z")
    assert not a.try_acquire_or_renew()
    clock.advance(14.5)  # 24.5 s since first seen, but 14.5 s since b's renewal was seen
    assert not a.try_acquire_or_renew()
    clock.advance(0.5)
    assert a.try_acquire_or_renew()
    assert lease_spec(kube)["holderIdentity"] == "a"


def test_loses_leadership_at_once_when_another_replica_took_the_lease(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    assert a.try_acquire_or_renew()
    clock.advance(1.0)
    kube.edit(*LEASE, lambda lease: lease["spec"].update(holderIdentity="b", renewTime="2025-01-02T03:04:06.0Z"))
    writes = len(kube.writes)

    assert not a.try_acquire_or_renew()

    # Well inside its own term, yet no longer leader, and it wrote nothing back.
    assert not a.is_leader()
    assert len(kube.writes) == writes
    assert lease_spec(kube)["holderIdentity"] == "b"


def test_a_conflicting_renewal_keeps_the_current_term_only(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    assert a.try_acquire_or_renew()

    clock.advance(5.0)
    kube.faults["update"].append(errors.Conflict("PUT lease: the object has been modified"))
    # The renewal failed, but the term won at the acquisition has 7.5 s left...
    assert a.try_acquire_or_renew()
    # ...and the failed renewal did not extend it.
    clock.advance(TERM - 5.0)
    kube.faults["get"].append(errors.TemporaryError("GET lease: 503"))
    assert not a.try_acquire_or_renew()
    assert not a.is_leader()


def test_a_lease_created_by_a_competitor_first_is_not_won(kube: FakeKube, clock: FakeClock) -> None:
    a = elector(kube, clock, "a")
    kube.faults["create"].append(errors.Conflict("POST lease: already exists"))

    assert not a.try_acquire_or_renew()
    assert not a.is_leader()


def test_release_hands_the_lease_over_without_waiting(kube: FakeKube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "a"), elector(kube, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()

    a.release()

    assert not a.is_leader()
    assert lease_spec(kube)["holderIdentity"] is None
    assert lease_spec(kube)["leaseDurationSeconds"] == 1
    # No expiry to wait for: an unheld lease is taken on the next attempt.
    assert b.try_acquire_or_renew()
    assert lease_spec(kube)["holderIdentity"] == "b"
    assert lease_spec(kube)["leaseTransitions"] == 1


def test_release_by_a_non_leader_writes_nothing(kube: FakeKube, clock: FakeClock) -> None:
    held_by(kube, "b", "2025-01-01T00:00:00.000000Z")
    a = elector(kube, clock, "a")
    assert not a.try_acquire_or_renew()

    a.release()

    assert kube.writes == []
    assert lease_spec(kube)["holderIdentity"] == "b"


def test_two_replicas_are_never_leader_at_the_same_moment(kube: FakeKube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "a"), elector(kube, clock, "b")
    leaders: list[str] = []
    # a renews every 5 s for a minute and then dies; b tries every 2.5 s throughout.
    for tick in range(48):
        if tick % 2 == 0 and tick < 24:
            a.try_acquire_or_renew()
        b.try_acquire_or_renew()
        current = [e.identity for e in (a, b) if e.is_leader()]
        assert len(current) <= 1, f"two leaders at {clock.elapsed}s"
        leaders.append(current[0] if current else "-")
        clock.advance(2.5)

    assert leaders[:24] == ["a"] * 24
    # a's last renewal was at 55 s: its term ends at 67.5 s, and b, which saw that renewal at
    # 55 s, takes over at 70 s: one tick with no leader at all, never one with two.
    assert leaders[24:] == ["a"] * 3 + ["-"] + ["b"] * 20
    assert lease_spec(kube)["holderIdentity"] == "b"
