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

from controlplane.domain import observing


def evaluate(
    rules: observing.Rules, seen: observing.Observation, restart_window_seconds: int
) -> dict[str, observing.Verdict]:
    """The verdict of every rule; a rule that is off never fires."""
    if seen.state == "paused":
        return {rule: observing.Verdict(False, "the process is paused") for rule in observing.RULES}
    return {
        "down": observing.Verdict(
            rules.alert_on_down and seen.state == "down",
            "no instance is ready" if seen.state == "down" else f"{seen.ready_count} instance(s) ready",
        ),
        "restart": observing.Verdict(
            rules.alert_on_restart and seen.restarts_in_window > 0,
            f"{seen.restarts_in_window} restart(s) in the last {restart_window_seconds}s",
        ),
        "cpu": _threshold("CPU", rules.alert_on_cpu, seen.cpu_pct, rules.cpu_threshold_pct),
        "memory": _threshold("memory", rules.alert_on_memory, seen.memory_pct, rules.memory_threshold_pct),
        "heartbeat": observing.Verdict(
            rules.alert_on_down and seen.heartbeat == "DEAD",
            "no heartbeat within the interval" if seen.heartbeat == "DEAD" else f"heartbeat {seen.heartbeat or 'off'}",
        ),
    }


def _threshold(what: str, enabled: bool, value: float | None, threshold: float) -> observing.Verdict:
    if value is None:
        return observing.Verdict(False, f"no {what} usage reported")
    above = value > threshold
    relation = "above" if above else "within"
    return observing.Verdict(
        enabled and above, f"{what} at {value:g}% of the limit, {relation} the {threshold:g}% threshold"
    )


def transitions(
    firing_before: Mapping[str, bool], verdicts: Mapping[str, observing.Verdict]
) -> list[observing.Transition]:
    """Rules whose verdict differs from the stored one. A rule never stored counts as not firing,
    so a process that starts healthy produces no notification at all."""
    return [
        observing.Transition(rule, verdict.firing, verdict.message)
        for rule, verdict in verdicts.items()
        if verdict.firing != firing_before.get(rule, False)
    ]
