"""Alert rules (pure): which rules of a process fire now, and which notifications that implies.

The rules are those of watched processes, over a process's pods instead of a host's processes:

- ``down``: instances are wanted and none is ready (the status is ``down``);
- ``restart``: an instance restarted within the restart window;
- ``cpu`` / ``memory``: the last sample's usage, as a percentage of the limits of the instances
  measured, is above the threshold;
- ``heartbeat``: the process missed its heartbeat window (DEAD). A heartbeat is a dead-man's
  switch for the process being down, so ``alert_on_down`` governs it too.

A paused process alerts on nothing. A notification is due only when a rule's verdict flips (fired
or resolved): while the state holds, nothing more is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

RULES = ("down", "restart", "cpu", "memory", "heartbeat")


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    alert_on_down: bool = True
    alert_on_restart: bool = False
    alert_on_cpu: bool = False
    alert_on_memory: bool = False
    cpu_threshold_pct: float = 50.0
    memory_threshold_pct: float = 25.0


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of a process at one moment."""

    state: str  # the computed status: paused, pending, down, up
    ready_count: int
    restarts_in_window: int
    cpu_pct: float | None
    memory_pct: float | None
    heartbeat: str | None  # ALIVE, DEAD, RESURRECTED; None without a heartbeat


class Verdict(msgspec.Struct, frozen=True):
    firing: bool
    message: str


class Transition(msgspec.Struct, frozen=True):
    rule: str
    firing: bool
    message: str

    @property
    def event(self) -> str:
        return "alert.fired" if self.firing else "alert.resolved"


def evaluate(rules: Rules, seen: Observation, restart_window_seconds: int) -> dict[str, Verdict]:
    """The verdict of every rule; a rule that is off never fires."""
    if seen.state == "paused":
        return {rule: Verdict(False, "the process is paused") for rule in RULES}
    return {
        "down": Verdict(
            rules.alert_on_down and seen.state == "down",
            "no instance is ready" if seen.state == "down" else f"{seen.ready_count} instance(s) ready",
        ),
        "restart": Verdict(
            rules.alert_on_restart and seen.restarts_in_window > 0,
            f"{seen.restarts_in_window} restart(s) in the last {restart_window_seconds}s",
        ),
        "cpu": _threshold("CPU", rules.alert_on_cpu, seen.cpu_pct, rules.cpu_threshold_pct),
        "memory": _threshold("memory", rules.alert_on_memory, seen.memory_pct, rules.memory_threshold_pct),
        "heartbeat": Verdict(
            rules.alert_on_down and seen.heartbeat == "DEAD",
            "no heartbeat within the interval" if seen.heartbeat == "DEAD" else f"heartbeat {seen.heartbeat or 'off'}",
        ),
    }


def _threshold(what: str, enabled: bool, value: float | None, threshold: float) -> Verdict:
    if value is None:
        return Verdict(False, f"no {what} usage reported")
    above = value > threshold
    relation = "above" if above else "within"
    return Verdict(enabled and above, f"{what} at {value:g}% of the limit, {relation} the {threshold:g}% threshold")


def transitions(firing_before: Mapping[str, bool], verdicts: Mapping[str, Verdict]) -> list[Transition]:
    """Rules whose verdict differs from the stored one. A rule never stored counts as not firing,
    so a process that starts healthy produces no notification at all."""
    return [
        Transition(rule, verdict.firing, verdict.message)
        for rule, verdict in verdicts.items()
        if verdict.firing != firing_before.get(rule, False)
    ]
