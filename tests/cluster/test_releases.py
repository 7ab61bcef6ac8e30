"""Releases on the real cluster. KWOK plays the containers: an image tagged `simulate-fail` exits
with code 1, one tagged `simulate-notready` never becomes ready (localcluster/kwok_stages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.stack import Stack, running_stack
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube, eventually

TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture
def stack(tmp_path: Path, kube_cluster: launcher.LocalCluster, kube: Kube) -> Iterator[Stack]:
    with running_stack(tmp_path, kube_cluster, kube, progress_deadline_seconds=6) as running:
        yield running


def deploy(stack: Stack, app_id: str, **body: Any) -> dict[str, Any]:
    response = stack.api.post(f"/v1/applications/{app_id}/deployments", json=body)
    assert response.status_code == 201, response.text
    release: dict[str, Any] = response.json()
    return release


def release_of(stack: Stack, app_id: str, release_id: str) -> dict[str, Any]:
    found: dict[str, Any] = stack.api.get(f"/v1/applications/{app_id}/deployments/{release_id}").json()
    return found


def wait_release(stack: Stack, app_id: str, release_id: str, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        release = release_of(stack, app_id, release_id)
        return release if release["status"] in statuses else None

    return eventually(check, timeout=90, what=f"release in {statuses}")


def web_image(stack: Stack, app_id: str, name: str) -> str:
    namespace = stack.api.get(f"/v1/applications/{app_id}").json()["namespace"]
    deployment = stack.kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def app_with_jobs(stack: Stack, name: str) -> dict[str, Any]:
    app = stack.app_with_procfile(name, "web: serve\nrelease: migrate\n", image="example/app:v1")
    for key, policy in (("notify", "afterSuccessDeployment"), ("cleanup", "afterFailedDeployment")):
        stack.api.create_process(app["id"], key=key, type="job", entrypoint=key, job_start_policy=policy)
    stack.wait_status(app["id"], "web", "up", ready=1)
    return app


def test_happy_path_then_rollback(stack: Stack) -> None:
    stack.start_reconciler()
    app = app_with_jobs(stack, "happy")
    first = deploy(stack, app["id"], image="example/app:v2")
    assert (first["number"], first["status"], first["image"]) == (1, "pending", "example/app:v2")
    assert {p["key"] for p in first["processes"]} == {"web", "release", "notify", "cleanup"}
    done = wait_release(stack, app["id"], first["id"])
    assert done["status"] == "succeeded", done
    jobs = {job["key"]: job for job in done["jobs"]}
    assert set(jobs) == {"release", "notify"}
    assert jobs["release"]["job_name"] == "happy-release-r1"
    assert (jobs["release"]["status"], jobs["release"]["exit_code"]) == ("succeeded", 0)
    assert jobs["notify"]["status"] == "succeeded"
    steps = [done[k] for k in ("pre_jobs_started_at", "rollout_started_at", "post_jobs_started_at", "finished_at")]
    assert all(steps)
    assert steps == sorted(steps)
    assert web_image(stack, app["id"], "happy-web") == "example/app:v2"
    assert stack.api.get(f"/v1/applications/{app['id']}").json()["image"] == "example/app:v2"

    second = wait_release(stack, app["id"], deploy(stack, app["id"], image="example/app:v3")["id"])
    assert second["status"] == "succeeded"
    assert web_image(stack, app["id"], "happy-web") == "example/app:v3"
    response = stack.api.post(f"/v1/applications/{app['id']}/deployments/rollback", json={"release_id": first["id"]})
    assert response.status_code == 201, response.text
    rollback = wait_release(stack, app["id"], response.json()["id"])
    assert (rollback["number"], rollback["status"], rollback["rollback_of"]) == (3, "succeeded", first["id"])
    assert rollback["jobs"] == [job for job in rollback["jobs"] if job["policy"] != "beforeDeployment"]
    assert web_image(stack, app["id"], "happy-web") == "example/app:v2"
    listed = stack.api.get(f"/v1/applications/{app['id']}/deployments").json()
    assert [r["number"] for r in listed["data"]] == [3, 2, 1]


def test_failing_pre_job_stops_the_rollout_and_runs_failure_jobs(stack: Stack) -> None:
    stack.start_reconciler()
    app = app_with_jobs(stack, "sad")
    release = wait_release(stack, app["id"], deploy(stack, app["id"], image="example/app:simulate-fail")["id"])
    assert release["status"] == "failed"
    assert release["rollout_started_at"] is None
    jobs = {job["key"]: job for job in release["jobs"]}
    assert set(jobs) == {"release", "cleanup"}
    assert (jobs["release"]["status"], jobs["release"]["exit_code"]) == ("failed", 1)
    assert "BackoffLimitExceeded" in jobs["release"]["reason"]
    assert jobs["cleanup"]["status"] in ("succeeded", "failed")
    assert "beforeDeployment job failed: release (exit code 1" in release["failure_reason"]
    assert web_image(stack, app["id"], "sad-web") == "example/app:v1"


def test_rollout_that_never_becomes_available_fails_at_its_deadline(stack: Stack) -> None:
    stack.start_reconciler()
    app = app_with_jobs(stack, "stuck")
    release = deploy(stack, app["id"], image="example/app:simulate-notready")
    done = wait_release(stack, app["id"], release["id"])
    assert done["status"] == "failed"
    assert "progress deadline" in done["failure_reason"]
    assert {job["key"] for job in done["jobs"]} == {"release", "cleanup"}
    eventually(lambda: web_image(stack, app["id"], "stuck-web") == "example/app:v1", what="the old image back")
    stack.wait_status(app["id"], "web", "up", ready=1)


def test_cancel_and_one_release_at_a_time(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("cancel", "web: serve\n", image="example/app:v1")
    stack.wait_status(app["id"], "web", "up", ready=1)
    release = deploy(stack, app["id"], image="example/app:simulate-notready")
    wait_release(stack, app["id"], release["id"], ("rolling_out",))
    second = stack.api.post(f"/v1/applications/{app['id']}/deployments", json={"image": "example/app:v9"})
    assert second.status_code == 409
    assert second.json()["code"] == "conflict"
    assert second.json()["running_deployment_id"] == release["id"]
    cancelled = stack.api.post(f"/v1/applications/{app['id']}/deployments/{release['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    eventually(lambda: web_image(stack, app["id"], "cancel-web") == "example/app:v1", what="the old image back")
    again = stack.api.post(f"/v1/applications/{app['id']}/deployments/{release['id']}/cancel")
    assert again.status_code == 409


def test_restart_rolls_pods_without_a_new_image(stack: Stack) -> None:
    stack.start_reconciler()
    app = stack.app_with_procfile("restart", "worker: work\n", image="example/app:v1")
    stack.wait_status(app["id"], "worker", "up", ready=1)
    namespace = stack.api.get(f"/v1/applications/{app['id']}").json()["namespace"]
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/restart-worker"
    before = stack.kube.get(path)["spec"]["template"]["metadata"]["annotations"]["procplane.dev/config-hash"]
    release = wait_release(stack, app["id"], deploy(stack, app["id"], is_restart=True)["id"])
    assert (release["status"], release["image"], release["is_restart"]) == ("succeeded", "example/app:v1", True)
    after = stack.kube.get(path)["spec"]["template"]["metadata"]["annotations"]["procplane.dev/config-hash"]
    assert after != before


def test_reconciler_restart_during_a_release_runs_no_job_twice(stack: Stack) -> None:
    first = stack.start_reconciler()
    app = app_with_jobs(stack, "phoenix")
    release = deploy(stack, app["id"], image="example/app:v2")
    wait_release(stack, app["id"], release["id"], ("running_pre_jobs", "rolling_out", "running_post_jobs"))
    first.stop()
    namespace = stack.api.get(f"/v1/applications/{app['id']}").json()["namespace"]
    job = eventually(
        lambda: next(iter(stack.kube.items(f"/apis/batch/v1/namespaces/{namespace}/jobs",
                                           labelSelector="procplane.dev/release=1")), None),
        what="the release job",
    )  # fmt: skip
    stack.start_reconciler()
    done = wait_release(stack, app["id"], release["id"])
    assert done["status"] == "succeeded"
    jobs = stack.kube.items(f"/apis/batch/v1/namespaces/{namespace}/jobs", labelSelector="procplane.dev/release=1")
    assert sorted(j["metadata"]["name"] for j in jobs) == ["phoenix-notify-r1", "phoenix-release-r1"]
    pre = next(j for j in jobs if j["metadata"]["name"] == "phoenix-release-r1")
    if job["metadata"]["name"] == "phoenix-release-r1":
        assert pre["metadata"]["uid"] == job["metadata"]["uid"]
    pods = stack.kube.items(f"/api/v1/namespaces/{namespace}/pods", labelSelector="job-name=phoenix-release-r1")
    assert len(pods) == 1
