"""Alert rules, transitions, the presented status, heartbeat states and webhook signing (pure)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from controlplane.domain import observed, observing
from reconciler.observe import alerts, webhooks

UP = observing.Observation(
    state="up", ready_count=2, restarts_in_window=0, cpu_pct=10.0, memory_pct=5.0, heartbeat=None
)


def firing(rules: observing.Rules, seen: observing.Observation) -> set[str]:
    return {rule for rule, verdict in alerts.evaluate(rules, seen, 600).items() if verdict.firing}


def test_a_healthy_process_fires_nothing() -> None:
    everything = observing.Rules(alert_on_restart=True, alert_on_cpu=True, alert_on_memory=True)
    assert firing(everything, UP) == set()


def test_down_fires_only_when_asked() -> None:
    down = observing.Observation(state="down", ready_count=0, restarts_in_window=0, cpu_pct=None, memory_pct=None,
                              heartbeat=None)  # fmt: skip
    assert firing(observing.Rules(), down) == {"down"}
    assert firing(observing.Rules(alert_on_down=False), down) == set()


def test_restart_rule_uses_the_window() -> None:
    seen = msgspec.structs.replace(UP, restarts_in_window=2)
    assert firing(observing.Rules(), seen) == set()  # off by default (seed 002)
    verdicts = alerts.evaluate(observing.Rules(alert_on_restart=True), seen, 600)
    assert verdicts["restart"] == observing.Verdict(True, "2 restart(s) in the last 600s")


@pytest.mark.parametrize(("value", "fires"), [(80.0, False), (80.01, True), (None, False)])
def test_thresholds_fire_strictly_above(value: float | None, fires: bool) -> None:
    seen = msgspec.structs.replace(UP, cpu_pct=value, memory_pct=value)
    rules = observing.Rules(alert_on_cpu=True, cpu_threshold_pct=80, alert_on_memory=True, memory_threshold_pct=80)
    assert firing(rules, seen) == ({"cpu", "memory"} if fires else set())


def test_heartbeat_death_is_a_down_alert() -> None:
    dead = msgspec.structs.replace(UP, heartbeat="DEAD")
    assert firing(observing.Rules(), dead) == {"heartbeat"}
    assert firing(observing.Rules(alert_on_down=False), dead) == set()
    assert firing(observing.Rules(), msgspec.structs.replace(UP, heartbeat="RESURRECTED")) == set()


def test_a_paused_process_alerts_on_nothing() -> None:
    paused = observing.Observation(state="paused", ready_count=0, restarts_in_window=5, cpu_pct=99.0, memory_pct=99.0,
                                heartbeat="DEAD")  # fmt: skip
    assert firing(observing.Rules(alert_on_restart=True, alert_on_cpu=True, alert_on_memory=True), paused) == set()


def test_transitions_only_when_a_verdict_flips() -> None:
    verdicts = {"down": observing.Verdict(True, "no instance is ready"), "cpu": observing.Verdict(False, "fine")}
    changes = alerts.transitions({}, verdicts)
    assert changes == [observing.Transition("down", True, "no instance is ready")]
    assert changes[0].event == "alert.fired"
    assert alerts.transitions({"down": True}, verdicts) == []  # the state holds: nothing more
    resolved = alerts.transitions({"down": True, "cpu": False}, {"down": observing.Verdict(False, "1 ready")})
    assert [(c.rule, c.event) for c in resolved] == [("down", "alert.resolved")]


@pytest.mark.parametrize(
    ("state", "fires", "shown"),
    [("up", True, "alerting"), ("up", False, "up"), ("down", True, "down"), ("paused", True, "paused"),
     ("pending", False, "pending")],
)  # fmt: skip
def test_presented_state(state: str, fires: bool, shown: str) -> None:
    assert observed.presented_state(state, fires) == shown


def test_heartbeat_states() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = now + timedelta(seconds=1)
    earlier = now - timedelta(seconds=1)
    assert observed.heartbeat_status("ALIVE", later, now) == "ALIVE"
    assert observed.heartbeat_status("ALIVE", earlier, now) == "DEAD"
    assert observed.heartbeat_status("RESURRECTED", later, now) == "RESURRECTED"
    assert observed.status_after_ping("ALIVE", later, now) == "ALIVE"
    assert observed.status_after_ping("ALIVE", earlier, now) == "RESURRECTED"
    assert observed.status_after_ping("DEAD", later, now) == "RESURRECTED"
    assert observed.status_after_ping("RESURRECTED", later, now) == "ALIVE"
    # SQLite hands back naive UTC datetimes.
    assert observed.heartbeat_status("ALIVE", earlier.replace(tzinfo=None), now) == "DEAD"


def test_signature_and_verification() -> None:
    body = webhooks.body_of({"b": 1, "a": "x"})
    assert body == b'{"a":"x","b":1}'
    header = webhooks.signature("whsec_s", 1700000000, body)
    # HMAC-SHA256 of "<t>.<body>", as any receiver can recompute it.
    expected = hmac.new(b"whsec_s", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert webhooks.verify("whsec_s", header, body)
    assert not webhooks.verify("whsec_other", header, body)
    assert not webhooks.verify("whsec_s", header, body + b" ")
    assert not webhooks.verify("whsec_s", header.replace("t=1700000000", "t=1700000001"), body)
    assert not webhooks.verify("whsec_s", "garbage", body)


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    assert [webhooks.retry_delay(n, 5, 60) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]
