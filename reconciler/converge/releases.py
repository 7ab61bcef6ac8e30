"""The release state machine (pure): from a release's record and what the cluster shows, the
next step — which Jobs to start, what each finished Job did, and the release's new status.

    pending -> running_pre_jobs -> rolling_out -> running_post_jobs -> succeeded | failed
                     | a pre job failed ------------^ (afterFailedDeployment jobs; nothing rolls out)
                                      | rollout failed --^
    any active status -> cancelled (by the API)

Every Job is named after its process and the release number, so starting one again after a
crash finds the one that exists instead of running it twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from controlplane.domain import spec, states
from controlplane.domain.release import ReleaseRecord, Step


def job_outcome(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> tuple[str, int | None, str | None]:
    """(running | succeeded | failed, exit code, reason) of one release Job."""
    if job is None:
        return "running", None, None
    conditions = {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []}
    exit_code, reason = _termination(pods)
    failed = conditions.get("Failed")
    if failed and failed.get("status") == "True":
        return "failed", exit_code, str(failed.get("reason") or "Failed") + _message(failed)
    complete = conditions.get("Complete") or conditions.get("SuccessCriteriaMet")
    if (complete and complete.get("status") == "True") or (job.get("status") or {}).get("succeeded"):
        return "succeeded", exit_code if exit_code is not None else 0, reason
    return "running", None, None


def _message(condition: Mapping[str, Any]) -> str:
    message = condition.get("message")
    return f": {message}" if message else ""


def _termination(pods: Sequence[Mapping[str, Any]]) -> tuple[int | None, str | None]:
    for pod in sorted(pods, key=lambda p: str(p.get("metadata", {}).get("creationTimestamp", "")), reverse=True):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or (status.get("lastState") or {}).get(
                "terminated"
            )
            if terminated:
                return terminated.get("exitCode"), terminated.get("reason")
    return None, None


def rollout_state(
    image: str, processes: Sequence[spec.ProcessSpec], deployments: Mapping[str, Mapping[str, Any] | None]
) -> tuple[bool, str | None]:
    """(every Deployment fully updated to `image` and available, the failure if one gave up)."""
    done = True
    for process in processes:
        if process.type not in ("web", "worker"):
            continue
        deployment = deployments.get(process.id)
        if deployment is None:
            done = False
            continue
        containers = deployment["spec"]["template"]["spec"]["containers"]
        status = deployment.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
                name = deployment["metadata"]["name"]
                return False, f"{name} did not become available before its progress deadline"
        wanted = deployment["spec"].get("replicas", 1)
        if (
            containers[0].get("image") != image
            or status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 0)
            or status.get("updatedReplicas", 0) < wanted
            or status.get("availableReplicas", 0) < wanted
            or status.get("replicas", 0) > wanted
        ):
            done = False
    return done, None


def step(
    release: ReleaseRecord,
    processes: Sequence[spec.ProcessSpec],
    observed: Mapping[str, tuple[str, int | None, str | None]],
    rollout: tuple[bool, str | None],
) -> Step:
    """The next step of an active release. `observed` maps Job names to `job_outcome` results;
    `rollout` is `rollout_state` for the release's image."""
    result = Step(status=release.status, outcome=release.outcome)
    jobs = {job.key: job for job in release.jobs}
    for job in release.jobs:
        if job.status != "running" or job.job_name not in observed:
            continue
        state, exit_code, reason = observed[job.job_name]
        if state != "running":
            result.job_updates.append(msgspec.structs.replace(job, status=state, exit_code=exit_code, reason=reason))
    finished = {u.key: u for u in result.job_updates}
    current = {key: finished.get(key, job) for key, job in jobs.items()}

    def start(policy: str) -> None:
        for process in processes:
            if process.type == "job" and process.job_start_policy == policy and not process.suspended:
                result.start_jobs.append((process, policy))

    def enter_post_jobs(outcome: str, reason: str | None) -> None:
        result.outcome, result.failure_reason = outcome, reason
        result.status = states.ReleaseStatus.RUNNING_POST_JOBS
        result.stamps.append("post_jobs_started_at")
        result.promote = outcome == "success"
        policy = states.JobStartPolicy
        start(policy.AFTER_SUCCESS_DEPLOYMENT if outcome == "success" else policy.AFTER_FAILED_DEPLOYMENT)
        if not result.start_jobs:
            finish()

    def finish() -> None:
        result.status = states.ReleaseStatus.SUCCEEDED if result.outcome == "success" else states.ReleaseStatus.FAILED
        result.stamps.append("finished_at")

    if release.status == states.ReleaseStatus.PENDING:
        result.stamps.append("pre_jobs_started_at")
        # A rollback re-deploys a known image: its release phase (migrations) already ran once.
        if release.rollback_of is None:
            start(states.JobStartPolicy.BEFORE_DEPLOYMENT)
        if result.start_jobs:
            result.status = states.ReleaseStatus.RUNNING_PRE_JOBS
        else:
            result.status = states.ReleaseStatus.ROLLING_OUT
            result.stamps.append("rollout_started_at")
    elif release.status == states.ReleaseStatus.RUNNING_PRE_JOBS:
        pre = [job for job in current.values() if job.policy == states.JobStartPolicy.BEFORE_DEPLOYMENT]
        failed = [job for job in pre if job.status == "failed"]
        if failed:
            codes = ", ".join(f"{job.key} (exit code {job.exit_code}, {job.reason})" for job in failed)
            enter_post_jobs("failure", f"beforeDeployment job failed: {codes}; nothing was rolled out")
        elif all(job.status == "succeeded" for job in pre):
            result.status = states.ReleaseStatus.ROLLING_OUT
            result.stamps.append("rollout_started_at")
    elif release.status == states.ReleaseStatus.ROLLING_OUT:
        done, failure = rollout
        if failure is not None:
            enter_post_jobs("failure", failure)
        elif done:
            enter_post_jobs("success", None)
    elif release.status == states.ReleaseStatus.RUNNING_POST_JOBS:
        post = [job for job in current.values() if job.policy != states.JobStartPolicy.BEFORE_DEPLOYMENT]
        if all(job.status != "running" for job in post):
            finish()
    return result
