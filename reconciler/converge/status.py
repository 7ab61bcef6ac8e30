"""What a process reports back: state, instance counts and conditions, computed from what runs.

Pure: the caller reads the process's Deployment, CronJob, HPA and pods (raw Kubernetes JSON) and
passes them in with the time; nothing here talks to the cluster or reads a clock. The result goes
to the Process CR's status subresource (``to_cr_status``); the store keeps it for the API.

States (``alerting`` is reserved for alert rules and never computed here):

- ``paused``: no instances are wanted (suspended, or scaled to zero);
- ``pending``: what runs has not been observed at the wanted spec yet (the workload is missing, or
  its controller has not seen its latest generation);
- ``down``: instances are wanted and none is ready;
- ``up``: at least one instance is ready (``Ready`` says whether all of them are).

A job process has no standing workload: its Jobs run once per release. Its state is ``paused``
when it is suspended or scaled to zero, ``pending`` until its Process CR has been observed, and
``up`` after that; ready instances count its ready pods (a release run in progress).

A cron process is ``paused`` only when suspended: the CronJob ignores the instance count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from controlplane.domain import spec, states
from controlplane.domain.observed import Condition, ConditionStatus, ConditionType, ObservedStatus
from reconciler.render import fields as render_fields
from reconciler.render import workloads as render_workloads

__all__ = [
    "State",
    "compute_status",
    "conditions_from_cr",
    "desired_long_running",
    "format_time",
    "to_cr_status",
]

State = Literal["paused", "pending", "down", "alerting", "up"]

CONDITION_TYPES: tuple[ConditionType, ...] = ("Ready", "Progressing", "Degraded")

# metav1.Condition's limits, which the CRD repeats: a longer message would fail the status write.
MAX_MESSAGE = 32768
# Pod messages are listed individually up to this many; a crash-looping 50-instance process
# should not produce a 50-line condition.
MAX_LISTED_PODS = 3

# Waiting reasons that do not clear up by themselves: the image, the config or the command is wrong.
FAILING_WAIT_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


class _Verdict(msgspec.Struct, frozen=True):
    status: ConditionStatus
    reason: str
    message: str


class _Observed(msgspec.Struct, frozen=True):
    state: State
    desired: int
    ready: int
    ready_condition: _Verdict
    progressing: _Verdict
    # Highest priority first; the Degraded condition shows the first reason and every message.
    problems: list[_Verdict]
    last_schedule_time: str | None = None


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compute_status(
    process: spec.ProcessSpec,
    generation: int | None,
    *,
    now: datetime,
    deployment: Mapping[str, Any] | None = None,
    cronjob: Mapping[str, Any] | None = None,
    hpa: Mapping[str, Any] | None = None,
    pods: Sequence[Mapping[str, Any]] = (),
    apply_error: str | None = None,
    previous: Iterable[Condition] | None = None,
) -> ObservedStatus:
    """The status of ``process`` from the objects observed in its namespace.

    ``generation`` is the Process CR's ``metadata.generation`` the status is written for (None
    while the CR has not been observed); it becomes ``observedGeneration``. ``apply_error`` is the
    apiserver's message when it rejected an applied object (422): the process is reported
    ``Degraded`` while its state still describes what runs. ``previous`` are the conditions last
    written; a condition whose status did not change keeps its ``lastTransitionTime``, so
    recomputing an unchanged process yields an equal status (and the loop writes nothing).
    """
    if process.type in ("web", "worker"):
        observed = _long_running(process, deployment, hpa, pods)
    elif process.type == "cron":
        observed = _cron(process, cronjob, pods)
    else:
        observed = _job(process, generation, pods)
    problems = list(observed.problems)
    if apply_error is not None:
        problems.insert(0, _Verdict("True", "ApplyRejected", apply_error))
    verdicts = {
        "Ready": observed.ready_condition,
        "Progressing": observed.progressing,
        "Degraded": _degraded(problems),
    }
    before = {condition.type: condition for condition in previous or ()}
    stamp = format_time(now)
    conditions = []
    for kind in CONDITION_TYPES:
        verdict = verdicts[kind]
        last = before.get(kind)
        kept = last.last_transition_time if last is not None and last.status == verdict.status else stamp
        conditions.append(
            Condition(
                type=kind,
                status=verdict.status,
                reason=verdict.reason,
                message=_truncate(verdict.message),
                last_transition_time=kept,
                observed_generation=generation,
            )
        )
    return ObservedStatus(
        state=states.ProcessStatus(observed.state),
        desired_instances=observed.desired,
        ready_instances=observed.ready,
        observed_generation=generation,
        conditions=conditions,
        last_schedule_time=observed.last_schedule_time,
    )


# --- web and worker: a Deployment, perhaps under an HPA -------------------------------------------


def desired_long_running(process: spec.ProcessSpec, hpa: Mapping[str, Any] | None) -> int:
    """Instances a web or worker process wants: its fixed count, or what its HPA decided."""
    fixed = render_workloads.fixed_replicas(process)
    if fixed is not None:
        return fixed
    assert isinstance(process.scaling, spec.HorizontalScaling)
    # The rendered bounds, not the raw spec: minReplicas is floored at one instance.
    low, high = render_workloads.hpa_bounds(process.scaling)
    wanted = _int(_path(hpa, "status", "desiredReplicas"))
    # A fresh HPA reports 0 until its first evaluation; the HPA never goes below its floor.
    if wanted <= 0:
        return low
    # Clamped because an HPA status lags a bounds change by one evaluation.
    return min(max(wanted, low), high)


def _long_running(
    process: spec.ProcessSpec,
    deployment: Mapping[str, Any] | None,
    hpa: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
) -> _Observed:
    desired = desired_long_running(process, hpa)
    paused_message = "suspended" if process.suspended else "scaled to zero instances"
    problems = _pod_problems(pods)
    if deployment is None:
        return _missing(desired, paused_message, "the Deployment does not exist yet", problems)
    status = _mapping(deployment.get("status"))
    generation = _int(_path(deployment, "metadata", "generation"))
    observed_generation = status.get("observedGeneration")
    caught_up = observed_generation is not None and _int(observed_generation) >= generation
    ready = _int(status.get("readyReplicas"))
    replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    # Defaulted to 1 by the apiserver when unset, so a live object always has it.
    spec_replicas = _int(_path(deployment, "spec", "replicas"), default=1)
    conditions = {c.get("type"): c for c in _mappings(status.get("conditions"))}
    deadline = conditions.get("Progressing", {})
    deadline_exceeded = deadline.get("reason") == "ProgressDeadlineExceeded"
    available = conditions.get("Available", {})
    replica_failure = conditions.get("ReplicaFailure", {})

    if deadline_exceeded:
        problems.insert(0, _Verdict("True", "ProgressDeadlineExceeded", str(deadline.get("message", ""))))
    if replica_failure.get("status") == "True":
        problems.insert(
            1 if deadline_exceeded else 0,
            _Verdict("True", "ReplicaFailure", str(replica_failure.get("message", ""))),
        )

    if desired == 0:
        state: State = "paused"
        ready_condition = _Verdict("True", "Paused", paused_message)
    elif not caught_up:
        state = "pending"
        ready_condition = _Verdict(
            "False", "NotObserved", f"the Deployment controller has not observed generation {generation} yet"
        )
    else:
        state = "up" if ready > 0 else "down"
        all_ready = ready >= desired and available.get("status") != "False"
        ready_condition = _Verdict(
            "True" if all_ready else "False",
            "InstancesReady" if all_ready else "InstancesNotReady",
            f"{ready} of {desired} instances ready",
        )

    if deadline_exceeded:
        progressing = _Verdict("False", "ProgressDeadlineExceeded", str(deadline.get("message", "")))
    elif not caught_up:
        progressing = _Verdict(
            "True", "Rollout", f"waiting for the Deployment controller to observe generation {generation}"
        )
    elif updated < spec_replicas or replicas > updated:
        progressing = _Verdict("True", "Rollout", f"{updated} of {spec_replicas} instances updated")
    elif ready < desired:
        progressing = _Verdict("True", "ScalingUp", f"{ready} of {desired} instances ready")
    elif replicas > desired:
        progressing = _Verdict("True", "ScalingDown", f"{replicas} instances running, {desired} wanted")
    elif desired == 0:
        progressing = _Verdict("False", "Paused", paused_message)
    else:
        progressing = _Verdict("False", "Stable", f"all {desired} instances updated and ready")
    return _Observed(state, desired, ready, ready_condition, progressing, problems)


# --- cron: a CronJob ------------------------------------------------------------------------------


def _cron(process: spec.ProcessSpec, cronjob: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> _Observed:
    desired = 0 if process.suspended else 1
    problems = _pod_problems(pods)
    if cronjob is None:
        return _missing(desired, "suspended", "the CronJob does not exist yet", problems)
    status = _mapping(cronjob.get("status"))
    active = len(_mappings(status.get("active")))
    last_schedule = status.get("lastScheduleTime")
    live_suspended = _path(cronjob, "spec", "suspend") is True
    if desired == 0:
        state: State = "paused"
        ready_condition = _Verdict("True", "Paused", "suspended")
    elif live_suspended:
        # Resumed in the spec, not yet applied: the cluster still holds the old, suspended spec.
        state = "pending"
        ready_condition = _Verdict("False", "NotObserved", "the CronJob is still suspended")
    else:
        state = "up"
        zone = f" ({process.time_zone})" if process.time_zone else ""
        ready_condition = _Verdict("True", "Scheduled", f"runs on schedule {process.schedule}{zone}")
    progressing = _runs_progress(active, desired, "suspended")
    scheduled = last_schedule if isinstance(last_schedule, str) else None
    return _Observed(state, desired, active, ready_condition, progressing, problems, scheduled)


# --- job: one Job per release ---------------------------------------------------------------------


def _job(process: spec.ProcessSpec, generation: int | None, pods: Sequence[Mapping[str, Any]]) -> _Observed:
    scaling = process.scaling
    scaled_to_zero = isinstance(scaling, spec.ManualScaling) and scaling.instance_count == 0
    desired = 0 if process.suspended or scaled_to_zero else 1
    live = [pod for pod in pods if not _terminating(pod)]
    running = [pod for pod in live if _path(pod, "status", "phase") in ("Pending", "Running")]
    ready = sum(1 for pod in live if _pod_ready(pod))
    if desired == 0:
        state: State = "paused"
        ready_condition = _Verdict("True", "Paused", "suspended" if process.suspended else "scaled to zero instances")
    elif generation is None:
        state = "pending"
        ready_condition = _Verdict("False", "NotObserved", "the Process resource does not exist yet")
    else:
        state = "up"
        when = f" ({process.job_start_policy})" if process.job_start_policy else ""
        ready_condition = _Verdict("True", "RunsPerRelease", f"runs once per deployment{when}")
    progressing = _runs_progress(len(running), desired, ready_condition.message)
    return _Observed(state, desired, ready, ready_condition, progressing, _pod_problems(pods))


# --- shared ---------------------------------------------------------------------------------------


def _missing(desired: int, paused_message: str, missing: str, problems: list[_Verdict]) -> _Observed:
    """A process whose workload has not been created (or not yet observed by the caller's cache)."""
    if desired == 0:
        paused = _Verdict("True", "Paused", paused_message)
        progressing = _Verdict("False", "Paused", paused_message)
        return _Observed("paused", 0, 0, paused, progressing, problems)
    # Progressing is Unknown rather than True: without an image the workload is not even rendered.
    not_observed = _Verdict("False", "NotObserved", missing)
    return _Observed("pending", desired, 0, not_observed, _Verdict("Unknown", "NotObserved", missing), problems)


def _runs_progress(active: int, desired: int, paused_message: str) -> _Verdict:
    """Progressing for the processes that run to completion (cron and job)."""
    if active:
        return _Verdict("True", "Running", f"{active} run{'s' if active != 1 else ''} active")
    if desired == 0:
        return _Verdict("False", "Paused", paused_message)
    return _Verdict("False", "Idle", "no run active")


def _degraded(problems: Sequence[_Verdict]) -> _Verdict:
    if not problems:
        return _Verdict("False", "AsExpected", "")
    # One condition per type: the most important reason names it, and no message is lost.
    return _Verdict("True", problems[0].reason, "; ".join(p.message for p in problems if p.message))


def _pod_problems(pods: Sequence[Mapping[str, Any]]) -> list[_Verdict]:
    failing: list[str] = []
    for pod in pods:
        if _terminating(pod):
            continue
        status = _mapping(pod.get("status"))
        containers = _mappings(status.get("initContainerStatuses")) + _mappings(status.get("containerStatuses"))
        for container in containers:
            waiting = _mapping(_path(container, "state", "waiting"))
            reason = waiting.get("reason")
            if reason in FAILING_WAIT_REASONS:
                detail = f": {waiting['message']}" if waiting.get("message") else ""
                name = _path(pod, "metadata", "name")
                failing.append(f"pod {name} container {container.get('name')}: {reason}{detail}")
    if not failing:
        return []
    message = "; ".join(failing[:MAX_LISTED_PODS])
    if len(failing) > MAX_LISTED_PODS:
        message += f"; and {len(failing) - MAX_LISTED_PODS} more"
    return [_Verdict("True", "InstancesFailing", message)]


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = _mappings(_path(pod, "status", "conditions"))
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _terminating(pod: Mapping[str, Any]) -> bool:
    # A pod being deleted (an old replica after a rollout) says nothing about the current spec.
    return _path(pod, "metadata", "deletionTimestamp") is not None


def _truncate(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    marker = " [truncated]"
    return message[: MAX_MESSAGE - len(marker)] + marker


def _path(obj: Mapping[str, Any] | None, *keys: str) -> Any:
    value: Any = obj
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# --- output forms ---------------------------------------------------------------------------------


def to_cr_status(status: ObservedStatus, *, internal_hostname: str | None = None) -> dict[str, Any]:
    """The Process CR's ``status`` (camelCase, as the CRD schema declares it).

    The hostname is the caller's to give (``labels.internal_hostname``, web processes only): it
    depends on operator settings, not on anything observed.
    """
    result = render_fields.present(
        observedGeneration=status.observed_generation,
        state=status.state,
        desiredInstances=status.desired_instances,
        readyInstances=status.ready_instances,
        internalHostname=internal_hostname,
        lastScheduleTime=status.last_schedule_time,
    )
    result["conditions"] = [_cr_condition(condition) for condition in status.conditions]
    return result


def _cr_condition(condition: Condition) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": condition.last_transition_time,
    }
    if condition.observed_generation is not None:
        result["observedGeneration"] = condition.observed_generation
    return result


def conditions_from_cr(cr_status: Mapping[str, Any] | None) -> list[Condition]:
    """The conditions of a Process CR's ``status`` as last written, for ``previous``.

    Entries this module would not have written (unknown type or status, no transition time) are
    skipped: they carry no transition time worth keeping.
    """
    result = []
    for item in _mappings(_mapping(cr_status).get("conditions")):
        kind, state, stamp = item.get("type"), item.get("status"), item.get("lastTransitionTime")
        if kind not in CONDITION_TYPES or state not in ("True", "False", "Unknown") or not isinstance(stamp, str):
            continue
        generation = item.get("observedGeneration")
        result.append(
            Condition(
                type=kind,
                status=state,
                reason=str(item.get("reason", "")),
                message=str(item.get("message", "")),
                last_transition_time=stamp,
                observed_generation=generation if isinstance(generation, int) else None,
            )
        )
    return result
