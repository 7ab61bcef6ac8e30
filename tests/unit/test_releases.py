"""The release state machine, step by step, without a cluster."""

from __future__ import annotations

from typing import Any

from controlplane.domain import spec
from controlplane.domain.release import JobRecord, ReleaseRecord
from reconciler.converge import releases
from tests.unit.specs import process_spec


def process(key: str, kind: str = "web", policy: str | None = None) -> spec.ProcessSpec:
    return process_spec(key, kind, id=f"id-{key}", job_start_policy=policy)


PROCESSES = [
    process("web"),
    process("migrate", "job", "beforeDeployment"),
    process("notify", "job", "afterSuccessDeployment"),
    process("cleanup", "job", "afterFailedDeployment"),
]


def record(status: str, outcome: str | None = None, jobs: tuple[JobRecord, ...] = (), **kw: Any) -> ReleaseRecord:
    return ReleaseRecord(id="r", number=1, image="app:v2", is_restart=False, rollback_of=kw.get("rollback_of"),
                         status=status, outcome=outcome, jobs=jobs)  # fmt: skip


def job(key: str, policy: str, status: str = "running") -> JobRecord:
    return JobRecord(key=key, policy=policy, job_name=f"a-{key}-r1", status=status)


def test_pending_starts_the_pre_jobs() -> None:
    step = releases.step(record("pending"), PROCESSES, {}, (False, None))
    assert step.status == "running_pre_jobs"
    assert [(p.key, policy) for p, policy in step.start_jobs] == [("migrate", "beforeDeployment")]
    assert step.stamps == ["pre_jobs_started_at"]


def test_pending_without_pre_jobs_or_as_a_rollback_goes_straight_to_the_rollout() -> None:
    for processes, rollback in ((PROCESSES[:1], None), (PROCESSES, "r0")):
        step = releases.step(record("pending", rollback_of=rollback), processes, {}, (False, None))
        assert step.status == "rolling_out"
        assert step.start_jobs == []


def test_pre_jobs_succeeded_then_rollout() -> None:
    release = record("running_pre_jobs", jobs=(job("migrate", "beforeDeployment"),))
    waiting = releases.step(release, PROCESSES, {"a-migrate-r1": ("running", None, None)}, (False, None))
    assert waiting.status == "running_pre_jobs"
    assert not waiting.changed(release)
    step = releases.step(release, PROCESSES, {"a-migrate-r1": ("succeeded", 0, "Completed")}, (False, None))
    assert step.status == "rolling_out"
    assert step.job_updates[0].status == "succeeded"


def test_failed_pre_job_runs_the_failure_jobs_and_rolls_nothing_out() -> None:
    release = record("running_pre_jobs", jobs=(job("migrate", "beforeDeployment"),))
    step = releases.step(release, PROCESSES, {"a-migrate-r1": ("failed", 3, "BackoffLimitExceeded")}, (False, None))
    assert step.status == "running_post_jobs"
    assert step.outcome == "failure"
    assert not step.promote
    assert [p.key for p, _ in step.start_jobs] == ["cleanup"]
    assert step.failure_reason is not None
    assert "migrate (exit code 3, BackoffLimitExceeded)" in step.failure_reason


def test_rollout_success_promotes_the_image_and_failure_does_not() -> None:
    success = releases.step(record("rolling_out"), PROCESSES, {}, (True, None))
    assert (success.status, success.outcome, success.promote) == ("running_post_jobs", "success", True)
    assert [p.key for p, _ in success.start_jobs] == ["notify"]
    failure = releases.step(record("rolling_out"), PROCESSES, {}, (False, "web missed its deadline"))
    assert (failure.status, failure.promote, failure.failure_reason) == (
        "running_post_jobs", False, "web missed its deadline",
    )  # fmt: skip
    still = releases.step(record("rolling_out"), PROCESSES, {}, (False, None))
    assert still.status == "rolling_out"


def test_post_jobs_finish_the_release_with_its_outcome() -> None:
    for outcome, final in (("success", "succeeded"), ("failure", "failed")):
        release = record("running_post_jobs", outcome, (job("notify", "afterSuccessDeployment"),))
        step = releases.step(release, PROCESSES, {"a-notify-r1": ("failed", 1, "Error")}, (False, None))
        assert step.status == final
        assert "finished_at" in step.stamps


def test_job_outcome_from_job_conditions_and_pods() -> None:
    failed_job = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}
    pod = {
        "metadata": {},
        "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]},
    }
    assert releases.job_outcome(failed_job, [pod]) == ("failed", 2, "BackoffLimitExceeded")
    done = {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    assert releases.job_outcome(done, []) == ("succeeded", 0, None)
    assert releases.job_outcome(None, []) == ("running", None, None)


def deployment(image: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "a-web", "generation": 2},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": image}]}}},
        "status": status,
    }


def test_rollout_state() -> None:
    web = [PROCESSES[0]]
    ready = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert releases.rollout_state("app:v2", web, {"id-web": deployment("app:v2", **ready)}) == (True, None)
    assert releases.rollout_state("app:v2", web, {"id-web": deployment("app:v1", **ready)}) == (False, None)
    old = {**ready, "observedGeneration": 1}
    assert releases.rollout_state("app:v2", web, {"id-web": deployment("app:v2", **old)}) == (False, None)
    surging = {**ready, "replicas": 3}
    assert releases.rollout_state("app:v2", web, {"id-web": deployment("app:v2", **surging)}) == (False, None)
    stuck = {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}
    done, failure = releases.rollout_state("app:v2", web, {"id-web": deployment("app:v2", **stuck)})
    assert not done
    assert failure == "a-web did not become available before its progress deadline"
