"""Process status from observed objects: states per type, conditions, transition times, output shapes."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from controlplane.api.processes import presenter as processes_presenter
from controlplane.domain import observed, spec, states
from reconciler.converge import status
from tests.unit.specs import process_spec

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
T0_TEXT = "2025-03-01T12:00:00Z"
T1 = T0 + timedelta(minutes=5)
T1_TEXT = "2025-03-01T12:05:00Z"
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CRD = Path(__file__).resolve().parents[2] / "crds" / "processes.procplane.dev.yaml"


def process(type_: str = "web", **overrides: Any) -> spec.ProcessSpec:
    fields: dict[str, Any] = {}
    if type_ == "cron":
        fields["schedule"] = "*/5 * * * *"
    if type_ == "job":
        fields["job_start_policy"] = "beforeDeployment"
    return process_spec(type_, type_, **{**fields, **overrides})


def manual(count: int) -> spec.ManualScaling:
    return spec.ManualScaling(instance_count=count)


def horizontal(low: int, high: int) -> spec.HorizontalScaling:
    return spec.HorizontalScaling(min_instance_count=low, max_instance_count=high)


def deployment(
    *,
    replicas: int = 2,
    ready: int | None = None,
    updated: int | None = None,
    running: int | None = None,
    generation: int = 3,
    observed: int | None = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A live Deployment; by default fully rolled out with every replica ready."""
    body: dict[str, Any] = {}
    if observed is not None:
        body["observedGeneration"] = observed
    body["replicas"] = replicas if running is None else running
    body["updatedReplicas"] = replicas if updated is None else updated
    ready = replicas if ready is None else ready
    # The apiserver leaves zero counts out of the status.
    if ready:
        body["readyReplicas"] = ready
        body["availableReplicas"] = ready
    if conditions is not None:
        body["conditions"] = conditions
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop-web", "namespace": "shop-k3x9qa", "generation": generation},
        "spec": {"replicas": replicas},
        "status": body,
    }


def hpa(desired: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "shop-web"},
        "status": {"currentReplicas": desired, "desiredReplicas": desired},
    }


def cronjob(*, active: int = 0, suspend: bool = False, last_schedule: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if active:
        body["active"] = [
            {"kind": "Job", "name": f"shop-cron-2900{i}", "namespace": "shop-k3x9qa"} for i in range(active)
        ]
    if last_schedule is not None:
        body["lastScheduleTime"] = last_schedule
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "shop-cron"},
        "spec": {"schedule": "*/5 * * * *", "suspend": suspend},
        "status": body,
    }


def pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    waiting: str | None = None,
    waiting_message: str | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": T0_TEXT}}
    if waiting is not None:
        state = {"waiting": {"reason": waiting}}
        if waiting_message is not None:
            state["waiting"]["message"] = waiting_message
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = T0_TEXT
    return {
        "metadata": metadata,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "web", "ready": ready, "restartCount": 0, "state": state}],
        },
    }


def condition(result: observed.ObservedStatus, kind: observed.ConditionType) -> observed.Condition:
    (found,) = [c for c in result.conditions if c.type == kind]
    return found


def summary(result: observed.ObservedStatus) -> tuple[str, int, int, dict[str, tuple[str, str]]]:
    """State, desired, ready, and each condition's (status, reason)."""
    return (
        result.state,
        result.desired_instances,
        result.ready_instances,
        {c.type: (c.status, c.reason) for c in result.conditions},
    )


def compute(proc: spec.ProcessSpec, generation: int | None = 7, **observed: Any) -> observed.ObservedStatus:
    return status.compute_status(proc, generation, now=T0, **observed)


# --- web and worker ----------------------------------------------------------------------------------

LONG_RUNNING = pytest.mark.parametrize("kind", ["web", "worker"])


@LONG_RUNNING
def test_long_running_up_with_every_instance_ready(kind: states.ProcessType) -> None:
    result = compute(process(kind, scaling=manual(2)), deployment=deployment(replicas=2))
    assert summary(result) == (
        "up",
        2,
        2,
        {
            "Ready": ("True", "InstancesReady"),
            "Progressing": ("False", "Stable"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "2 of 2 instances ready"
    assert condition(result, "Degraded").message == ""
    assert result.observed_generation == 7
    assert all(c.observed_generation == 7 for c in result.conditions)
    assert all(c.last_transition_time == T0_TEXT for c in result.conditions)


@LONG_RUNNING
def test_long_running_up_while_scaling_up(kind: states.ProcessType) -> None:
    result = compute(process(kind, scaling=manual(3)), deployment=deployment(replicas=3, ready=1))
    assert summary(result) == (
        "up",
        3,
        1,
        {
            "Ready": ("False", "InstancesNotReady"),
            "Progressing": ("True", "ScalingUp"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "1 of 3 instances ready"


@LONG_RUNNING
def test_long_running_down_when_none_ready(kind: states.ProcessType) -> None:
    result = compute(process(kind, scaling=manual(2)), deployment=deployment(replicas=2, ready=0))
    assert summary(result) == (
        "down",
        2,
        0,
        {
            "Ready": ("False", "InstancesNotReady"),
            "Progressing": ("True", "ScalingUp"),
            "Degraded": ("False", "AsExpected"),
        },
    )


@LONG_RUNNING
def test_long_running_pending_without_a_deployment(kind: states.ProcessType) -> None:
    result = compute(process(kind, scaling=manual(2)))
    assert summary(result) == (
        "pending",
        2,
        0,
        {
            "Ready": ("False", "NotObserved"),
            "Progressing": ("Unknown", "NotObserved"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "the Deployment does not exist yet"


@LONG_RUNNING
@pytest.mark.parametrize("observed", [2, None])
def test_long_running_pending_until_the_deployment_controller_catches_up(
    kind: states.ProcessType, observed: int | None
) -> None:
    # Ready counts from the previous generation say nothing about the spec just applied.
    live = deployment(replicas=2, generation=3, observed=observed)
    result = compute(process(kind, scaling=manual(2)), deployment=live)
    assert summary(result) == (
        "pending",
        2,
        2,
        {
            "Ready": ("False", "NotObserved"),
            "Progressing": ("True", "Rollout"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "the Deployment controller has not observed generation 3 yet"


@LONG_RUNNING
def test_long_running_rollout_in_progress(kind: states.ProcessType) -> None:
    # Surge pod of the new template up, old pods still serving.
    live = deployment(replicas=2, ready=2, updated=1, running=3)
    result = compute(process(kind, scaling=manual(2)), deployment=live)
    assert summary(result)[0:3] == ("up", 2, 2)
    assert condition(result, "Progressing").status == "True"
    assert condition(result, "Progressing").reason == "Rollout"
    assert condition(result, "Progressing").message == "1 of 2 instances updated"
    assert condition(result, "Ready").status == "True"


@LONG_RUNNING
def test_long_running_paused_at_zero_instances(kind: states.ProcessType) -> None:
    result = compute(process(kind, scaling=manual(0)), deployment=deployment(replicas=0))
    assert summary(result) == (
        "paused",
        0,
        0,
        {
            "Ready": ("True", "Paused"),
            "Progressing": ("False", "Paused"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "scaled to zero instances"


@LONG_RUNNING
def test_long_running_paused_when_suspended_while_pods_wind_down(kind: states.ProcessType) -> None:
    live = deployment(replicas=0, ready=2, updated=0, running=2)
    result = compute(process(kind, scaling=manual(4), suspended=True), deployment=live)
    assert summary(result)[0:3] == ("paused", 0, 2)
    assert condition(result, "Ready").message == "suspended"
    assert condition(result, "Progressing").status == "True"


@LONG_RUNNING
def test_long_running_paused_even_before_the_deployment_exists(kind: states.ProcessType) -> None:
    result = compute(process(kind, suspended=True))
    assert summary(result) == (
        "paused",
        0,
        0,
        {
            "Ready": ("True", "Paused"),
            "Progressing": ("False", "Paused"),
            "Degraded": ("False", "AsExpected"),
        },
    )


@LONG_RUNNING
def test_long_running_not_ready_while_the_deployment_is_unavailable(kind: states.ProcessType) -> None:
    unavailable = {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}
    live = deployment(replicas=2, conditions=[unavailable])
    result = compute(process(kind, scaling=manual(2)), deployment=live)
    assert result.state == "up"
    assert condition(result, "Ready").status == "False"


def test_scaling_down_is_progress() -> None:
    # The HPA just decided on fewer instances; the Deployment still runs the old count.
    live = deployment(replicas=3)
    result = compute(process("worker", scaling=horizontal(1, 5)), deployment=live, hpa=hpa(2))
    assert summary(result)[0:3] == ("up", 2, 3)
    progressing = condition(result, "Progressing")
    assert (progressing.status, progressing.reason, progressing.message) == (
        "True",
        "ScalingDown",
        "3 instances running, 2 wanted",
    )
    assert condition(result, "Ready").status == "True"


def test_missing_status_counts_as_zero() -> None:
    live = deployment(replicas=2)
    live["status"] = {"observedGeneration": 3}
    result = compute(process("web", scaling=manual(2)), deployment=live)
    assert summary(result)[0:3] == ("down", 2, 0)


# --- HPA ---------------------------------------------------------------------------------------------


@LONG_RUNNING
def test_hpa_decides_the_desired_count(kind: states.ProcessType) -> None:
    live = deployment(replicas=5, ready=4)
    result = compute(process(kind, scaling=horizontal(2, 10)), deployment=live, hpa=hpa(5))
    assert summary(result)[0:3] == ("up", 5, 4)
    assert condition(result, "Ready").message == "4 of 5 instances ready"


@pytest.mark.parametrize(
    ("low", "high", "observed", "expected"),
    [
        (3, 10, None, 3),  # no HPA observed yet: its floor
        (0, 10, None, 1),  # minReplicas is rendered as at least one
        (2, 10, 0, 2),  # a fresh HPA's zero means "not evaluated yet"
        (2, 10, 7, 7),
        (2, 4, 7, 4),  # the maximum was just lowered; the HPA status lags
        (5, 10, 3, 5),  # the minimum was just raised
    ],
)
def test_hpa_desired_count_bounds(low: int, high: int, observed: int | None, expected: int) -> None:
    proc = process("web", scaling=horizontal(low, high))
    assert status.desired_long_running(proc, None if observed is None else hpa(observed)) == expected


def test_horizontal_with_zero_maximum_is_paused() -> None:
    result = compute(process("worker", scaling=horizontal(0, 0)), deployment=deployment(replicas=0))
    assert summary(result)[0:3] == ("paused", 0, 0)


def test_suspended_horizontal_ignores_the_hpa() -> None:
    proc = process("web", scaling=horizontal(2, 10), suspended=True)
    result = compute(proc, deployment=deployment(replicas=0), hpa=hpa(6))
    assert summary(result)[0:3] == ("paused", 0, 0)


def test_manual_scaling_ignores_a_leftover_hpa() -> None:
    result = compute(process("web", scaling=manual(2)), deployment=deployment(replicas=2), hpa=hpa(9))
    assert result.desired_instances == 2


# --- cron --------------------------------------------------------------------------------------------


def test_cron_up_and_idle() -> None:
    live = cronjob(last_schedule="2025-03-01T11:55:00Z")
    result = compute(process("cron", time_zone="Europe/Paris"), cronjob=live)
    assert summary(result) == (
        "up",
        1,
        0,
        {
            "Ready": ("True", "Scheduled"),
            "Progressing": ("False", "Idle"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "runs on schedule */5 * * * * (Europe/Paris)"
    assert result.last_schedule_time == "2025-03-01T11:55:00Z"


def test_cron_ready_instances_are_active_runs() -> None:
    result = compute(process("cron"), cronjob=cronjob(active=2))
    assert summary(result)[0:3] == ("up", 1, 2)
    assert condition(result, "Progressing").status == "True"
    assert condition(result, "Progressing").reason == "Running"
    assert condition(result, "Progressing").message == "2 runs active"


def test_cron_pending_without_a_cronjob() -> None:
    result = compute(process("cron"))
    assert summary(result) == (
        "pending",
        1,
        0,
        {
            "Ready": ("False", "NotObserved"),
            "Progressing": ("Unknown", "NotObserved"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "the CronJob does not exist yet"
    assert result.last_schedule_time is None


def test_cron_pending_while_the_live_cronjob_is_still_suspended() -> None:
    result = compute(process("cron"), cronjob=cronjob(suspend=True))
    assert summary(result)[0:3] == ("pending", 1, 0)
    assert condition(result, "Ready").reason == "NotObserved"


@pytest.mark.parametrize("live", [None, cronjob(suspend=True), cronjob(suspend=False)])
def test_cron_paused_when_suspended(live: dict[str, Any] | None) -> None:
    result = compute(process("cron", suspended=True), cronjob=live)
    assert summary(result) == (
        "paused",
        0,
        0,
        {
            "Ready": ("True", "Paused"),
            "Progressing": ("False", "Paused"),
            "Degraded": ("False", "AsExpected"),
        },
    )


def test_cron_run_still_active_after_suspending() -> None:
    # Suspending stops new runs; one already started runs to its end.
    result = compute(process("cron", suspended=True), cronjob=cronjob(active=1, suspend=True))
    assert summary(result)[0:3] == ("paused", 0, 1)
    assert condition(result, "Progressing").message == "1 run active"


def test_cron_ignores_the_instance_count() -> None:
    result = compute(process("cron", scaling=manual(0)), cronjob=cronjob())
    assert result.state == "up"


# --- job ---------------------------------------------------------------------------------------------


def test_job_up_once_its_process_resource_is_observed() -> None:
    result = compute(process("job"))
    assert summary(result) == (
        "up",
        1,
        0,
        {
            "Ready": ("True", "RunsPerRelease"),
            "Progressing": ("False", "Idle"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert condition(result, "Ready").message == "runs once per deployment (beforeDeployment)"


def test_job_pending_before_its_process_resource_is_observed() -> None:
    result = compute(process("job"), generation=None)
    assert summary(result) == (
        "pending",
        1,
        0,
        {
            "Ready": ("False", "NotObserved"),
            "Progressing": ("False", "Idle"),
            "Degraded": ("False", "AsExpected"),
        },
    )
    assert result.observed_generation is None
    assert all(c.observed_generation is None for c in result.conditions)


@pytest.mark.parametrize(
    ("overrides", "message"), [({"scaling": manual(0)}, "scaled to zero instances"), ({"suspended": True}, "suspended")]
)
def test_job_paused(overrides: dict[str, Any], message: str) -> None:
    result = compute(process("job", **overrides))
    assert summary(result)[0:3] == ("paused", 0, 0)
    assert condition(result, "Ready").message == message


def test_job_run_in_progress() -> None:
    pods = [
        pod("shop-job-r4-abcde", phase="Running", ready=True),
        pod("shop-job-r4-fghij", phase="Pending", ready=False),
        pod("shop-job-r3-klmno", phase="Succeeded", ready=False),
        pod("shop-job-r4-old", phase="Running", ready=True, deleting=True),
    ]
    result = compute(process("job"), pods=pods)
    assert summary(result)[0:3] == ("up", 1, 1)
    assert condition(result, "Progressing").status == "True"
    assert condition(result, "Progressing").message == "2 runs active"


# --- Degraded ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["web", "worker", "cron", "job"])
def test_apply_error_degrades_without_changing_the_state(kind: states.ProcessType) -> None:
    message = 'Deployment.apps "shop-web" is invalid: spec.template.spec.containers[0].image: Required value'
    observed: dict[str, Any] = {"web": {"deployment": deployment()}, "worker": {"deployment": deployment()}}
    observed["cron"] = {"cronjob": cronjob()}
    observed["job"] = {}
    result = compute(process(kind), apply_error=message, **observed[kind])
    assert result.state == "up"
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason, degraded.message) == ("True", "ApplyRejected", message)


def test_progress_deadline_exceeded_degrades() -> None:
    message = 'ReplicaSet "shop-web-5d9c7b" has timed out progressing.'
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": message}
    live = deployment(replicas=2, ready=1, updated=1, running=3, conditions=[stalled])
    result = compute(process("web", scaling=manual(2)), deployment=live)
    assert result.state == "up"
    progressing = condition(result, "Progressing")
    assert (progressing.status, progressing.reason, progressing.message) == (
        "False",
        "ProgressDeadlineExceeded",
        message,
    )
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason, degraded.message) == ("True", "ProgressDeadlineExceeded", message)


def test_a_progressing_deployment_is_not_degraded() -> None:
    fine = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ok"}
    result = compute(process("web"), deployment=deployment(conditions=[fine]))
    assert condition(result, "Degraded").status == "False"


def test_replica_failure_degrades() -> None:
    message = 'pods "shop-web-5d9c7b-" is forbidden: violates PodSecurity "restricted:latest"'
    failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}
    result = compute(process("web"), deployment=deployment(replicas=2, ready=0, conditions=[failure]))
    assert result.state == "down"
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason, degraded.message) == ("True", "ReplicaFailure", message)


def test_apply_error_comes_first_and_every_message_is_kept() -> None:
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}
    result = compute(process("web"), deployment=deployment(conditions=[stalled]), apply_error="rejected")
    degraded = condition(result, "Degraded")
    assert (degraded.reason, degraded.message) == ("ApplyRejected", "rejected; timed out")


def test_failing_pods_degrade() -> None:
    pods = [
        pod("shop-web-1", ready=False, waiting="CrashLoopBackOff", waiting_message="back-off 40s restarting"),
        pod("shop-web-2", ready=True),
        pod("shop-web-3", ready=False, waiting="ContainerCreating"),
        pod("shop-web-old", ready=False, waiting="ImagePullBackOff", deleting=True),
    ]
    result = compute(process("web"), deployment=deployment(replicas=3, ready=1), pods=pods)
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "InstancesFailing")
    assert degraded.message == "pod shop-web-1 container web: CrashLoopBackOff: back-off 40s restarting"


def test_many_failing_pods_are_summarised() -> None:
    pods = [pod(f"shop-worker-{i}", ready=False, waiting="ErrImagePull") for i in range(5)]
    result = compute(process("worker", scaling=manual(5)), deployment=deployment(replicas=5, ready=0), pods=pods)
    message = condition(result, "Degraded").message
    assert message.count("ErrImagePull") == 3
    assert message.endswith("; and 2 more")


def test_failing_release_job_pod_degrades() -> None:
    result = compute(
        process("job"), pods=[pod("shop-job-r4-x", phase="Pending", ready=False, waiting="ImagePullBackOff")]
    )
    assert condition(result, "Degraded").reason == "InstancesFailing"


def test_overlong_messages_fit_the_schema() -> None:
    result = compute(process("web"), deployment=deployment(), apply_error="x" * 100_000)
    message = condition(result, "Degraded").message
    assert len(message) == status.MAX_MESSAGE
    assert message.endswith("[truncated]")


# --- transition times ----------------------------------------------------------------------------


def test_unchanged_conditions_keep_their_transition_time() -> None:
    proc = process("web", scaling=manual(2))
    first = status.compute_status(proc, 7, now=T0, deployment=deployment(replicas=2, ready=1))
    # Same statuses, new counts and a new generation: only messages and generations move.
    second = status.compute_status(
        proc, 8, now=T1, deployment=deployment(replicas=2, ready=1), previous=first.conditions
    )
    assert [c.last_transition_time for c in second.conditions] == [T0_TEXT] * 3
    assert all(c.observed_generation == 8 for c in second.conditions)


def test_changed_conditions_take_the_new_time() -> None:
    proc = process("web", scaling=manual(2))
    first = status.compute_status(proc, 7, now=T0, deployment=deployment(replicas=2, ready=1))
    second = status.compute_status(proc, 7, now=T1, deployment=deployment(replicas=2), previous=first.conditions)
    times = {c.type: c.last_transition_time for c in second.conditions}
    assert times == {"Ready": T1_TEXT, "Progressing": T1_TEXT, "Degraded": T0_TEXT}


def test_recomputing_an_unchanged_process_is_equal() -> None:
    proc = process("web", scaling=manual(2))
    first = status.compute_status(proc, 7, now=T0, deployment=deployment())
    again = status.compute_status(proc, 7, now=T1, deployment=deployment(), previous=first.conditions)
    assert again == first
    assert status.to_cr_status(again) == status.to_cr_status(first)


def test_previous_conditions_read_back_from_the_custom_resource() -> None:
    proc = process("web", scaling=manual(2))
    first = status.compute_status(proc, 7, now=T0, deployment=deployment())
    written = status.to_cr_status(first, internal_hostname="shop-web.shop-k3x9qa.svc.cluster.local")
    read_back = status.conditions_from_cr(written)
    assert read_back == first.conditions
    again = status.compute_status(proc, 7, now=T1, deployment=deployment(), previous=read_back)
    assert again == first


def test_conditions_from_cr_skips_what_it_cannot_use() -> None:
    cr_status = {
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": T0_TEXT},
            {"type": "Ready", "status": "Maybe", "lastTransitionTime": T0_TEXT},
            {"type": "Healthy", "status": "True", "lastTransitionTime": T0_TEXT},
            {"type": "Degraded", "status": "False"},
            "garbage",
        ]
    }
    assert status.conditions_from_cr(cr_status) == [
        observed.Condition(type="Ready", status="True", reason="", message="", last_transition_time=T0_TEXT)
    ]
    assert status.conditions_from_cr(None) == []
    assert status.conditions_from_cr({}) == []


def test_times_are_utc_whole_seconds() -> None:
    paris = datetime(2025, 3, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert status.format_time(paris) == "2025-03-01T12:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        status.format_time(datetime(2025, 3, 1, 12, 0))


# --- output shapes -------------------------------------------------------------------------------


def status_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (served,) = crd["spec"]["versions"]
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


def schema_errors(value: Any, schema: dict[str, Any], where: str = "status") -> list[str]:
    """Every emitted key must be declared (the apiserver prunes unknown ones), with its type and enum."""
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    kind = schema["type"]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected object"]
        errors = [f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key not in schema.get("properties", {}):
                errors.append(f"{where}: {key!r} is not in the schema")
            else:
                errors.extend(schema_errors(item, schema["properties"][key], f"{where}.{key}"))
        return errors
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected array"]
        return [e for i, item in enumerate(value) for e in schema_errors(item, schema["items"], f"{where}[{i}]")]
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool) or value < schema.get("minimum", value):
            return [f"{where}: {value!r} is not a valid integer"]
        return []
    if kind == "string":
        if not isinstance(value, str) or len(value) > schema.get("maxLength", len(value)):
            return [f"{where}: {value!r} is not a valid string"]
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            return [f"{where}: {value!r} is not a date-time"]
        return []
    return [f"{where}: unexpected schema type {kind}"]


def every_kind_of_status() -> list[observed.ObservedStatus]:
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "slow"}
    return [
        compute(process("web"), deployment=deployment()),
        compute(process("web", scaling=horizontal(1, 4)), deployment=deployment(conditions=[stalled]), hpa=hpa(2)),
        compute(process("worker", suspended=True)),
        compute(process("worker"), deployment=deployment(ready=0), apply_error="rejected"),
        compute(process("cron"), cronjob=cronjob(active=1, last_schedule=T0_TEXT)),
        compute(process("cron")),
        compute(process("job")),
        compute(process("job"), generation=None),
    ]


def test_cr_status_matches_the_crd_schema() -> None:
    schema = status_schema()
    for result in every_kind_of_status():
        cr_status = status.to_cr_status(result, internal_hostname="shop-web.shop-k3x9qa.svc.cluster.local")
        assert schema_errors(cr_status, schema) == []


def test_schema_check_catches_undeclared_keys() -> None:
    errors = schema_errors({"state": "up", "replicas": 2, "conditions": [{"type": "Ready"}]}, status_schema())
    assert errors == ["status: 'replicas' is not in the schema", "status.conditions[0]: missing 'status'"]


def test_cr_status_shape() -> None:
    result = compute(process("cron"), cronjob=cronjob(active=1, last_schedule=T0_TEXT))
    assert status.to_cr_status(result) == {
        "observedGeneration": 7,
        "state": "up",
        "desiredInstances": 1,
        "readyInstances": 1,
        "lastScheduleTime": T0_TEXT,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Scheduled",
                "message": "runs on schedule */5 * * * *",
                "lastTransitionTime": T0_TEXT,
                "observedGeneration": 7,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "Running",
                "message": "1 run active",
                "lastTransitionTime": T0_TEXT,
                "observedGeneration": 7,
            },
            {
                "type": "Degraded",
                "status": "False",
                "reason": "AsExpected",
                "message": "",
                "lastTransitionTime": T0_TEXT,
                "observedGeneration": 7,
            },
        ],
    }


def test_cr_status_leaves_out_what_is_unknown() -> None:
    result = compute(process("job"), generation=None)
    cr_status = status.to_cr_status(result)
    assert set(cr_status) == {"state", "desiredInstances", "readyInstances", "conditions"}
    assert all("observedGeneration" not in c for c in cr_status["conditions"])
    with_host = status.to_cr_status(compute(process("web")), internal_hostname="shop-web.ns.svc.cluster.local")
    assert with_host["internalHostname"] == "shop-web.ns.svc.cluster.local"


def test_states_match_the_crd_enum() -> None:
    assert set(typing.get_args(status.State)) == set(status_schema()["properties"]["state"]["enum"])
    # Reserved for alert rules: never computed from what runs.
    assert all(result.state != "alerting" for result in every_kind_of_status())


def test_the_api_shows_conditions_with_millisecond_times() -> None:
    result = compute(process("cron"), cronjob=cronjob(last_schedule="2025-03-01T11:55:00Z"))
    assert result.last_schedule_time == "2025-03-01T11:55:00Z"
    assert msgspec.to_builtins(processes_presenter.condition(result.conditions[0])) == {
        "type": "Ready",
        "status": "True",
        "reason": "Scheduled",
        "message": "runs on schedule */5 * * * *",
        "last_transition_time": "2025-03-01T12:00:00.000Z",
        "observed_generation": 7,
    }
    assert compute(process("web")).last_schedule_time is None
