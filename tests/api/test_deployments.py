"""The deployments API without a cluster: recording, refusing and listing releases."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem


def test_a_deployment_is_recorded_with_a_snapshot_and_numbered(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="web", type="web", entrypoint="serve")
    response = api.post(f"/v1/applications/{app_id}/deployments", json={"image": "example/app:v2"})
    assert response.status_code == 201, response.text
    release = response.json()
    assert (release["number"], release["status"], release["image"], release["is_restart"]) == (
        1, "pending", "example/app:v2", False,
    )  # fmt: skip
    assert [p["key"] for p in release["processes"]] == ["web"]
    assert release["jobs"] == []
    assert release["created_by"] == "bootstrap"
    fetched = api.get(f"/v1/applications/{app_id}/deployments/{release['id']}").json()
    assert fetched == release
    listed = api.get(f"/v1/applications/{app_id}/deployments").json()
    assert (listed["total"], [r["id"] for r in listed["data"]]) == (1, [release["id"]])


def test_only_one_deployment_runs_at_a_time(api: Api, app_id: str) -> None:
    first = api.post(f"/v1/applications/{app_id}/deployments", json={"image": "example/app:v2"}).json()
    second = api.post(f"/v1/applications/{app_id}/deployments", json={"image": "example/app:v3"})
    body = assert_problem(second, 409, "conflict")
    assert body["running_deployment_id"] == first["id"]
    cancelled = api.post(f"/v1/applications/{app_id}/deployments/{first['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert_problem(api.post(f"/v1/applications/{app_id}/deployments/{first['id']}/cancel"), 409, "conflict")
    third = api.post(f"/v1/applications/{app_id}/deployments", json={"image": "example/app:v3"})
    assert third.json()["number"] == 2


def test_bad_deployment_requests(api: Api, app_id: str) -> None:
    base = f"/v1/applications/{app_id}/deployments"
    assert_problem(api.post(base, json={"image": "Not An Image"}), 400, "validation_failed", "image")
    assert_problem(api.post(base, json={"image": "a:b", "extra": 1}), 400, "validation_failed", "extra")
    assert_problem(api.post(base, json={"image": "a:b", "is_restart": True}), 400, "validation_failed", "image")
    assert_problem(api.post(f"{base}/rollback", json={"release_id": "nope"}), 400, "validation_failed", "release_id")
    pending = api.post(base, json={"image": "example/app:v2"}).json()
    refused = api.post(f"{base}/rollback", json={"release_id": pending["id"]})
    body = assert_problem(refused, 400, "validation_failed", "release_id")
    assert body["errors"][0]["code"] == "invalid_choice"
    assert_problem(api.get(f"{base}/unknown"), 404, "not_found")
    assert_problem(api.get("/v1/applications/unknown/deployments"), 404, "not_found")


def test_restart_needs_an_image_on_the_application(api: Api) -> None:
    bare = api.post("/v1/applications", json={"name": "bare"}).json()
    response = api.post(f"/v1/applications/{bare['id']}/deployments", json={"is_restart": True})
    body = assert_problem(response, 400, "validation_failed", "image")
    assert body["errors"][0]["code"] == "required"


def test_job_process_run_settings(api: Api, app_id: str) -> None:
    created = api.create_process(
        app_id, key="migrate", type="job", entrypoint="migrate", job_timeout_seconds=600, job_retries=2,
        job_ttl_seconds=3600,
    )  # fmt: skip
    assert (created["job_timeout_seconds"], created["job_retries"], created["job_ttl_seconds"]) == (600, 2, 3600)
    base = f"/v1/applications/{app_id}/processes"
    for field, value in (("job_timeout_seconds", 0), ("job_retries", 11), ("job_ttl_seconds", -1)):
        response = api.patch(f"{base}/{created['id']}", json={field: value})
        body = assert_problem(response, 400, "validation_failed", field)
        assert body["errors"][0]["code"] == "out_of_range"
    worker = api.post(base, json={"key": "worker", "type": "worker", "job_retries": 1})
    body = assert_problem(worker, 400, "validation_failed", "job_retries")
    assert body["errors"][0]["code"] == "not_allowed_for_type"


def test_a_job_must_say_when_it_runs(api: Api, app_id: str) -> None:
    job = api.create_process(app_id, key="migrate", type="job", entrypoint="migrate")
    assert job["job_start_policy"] == "beforeDeployment"
    response = api.patch(f"/v1/applications/{app_id}/processes/{job['id']}", json={"job_start_policy": None})
    body = assert_problem(response, 400, "validation_failed", "job_start_policy")
    assert body["errors"][0]["code"] == "required"


def test_api_keys_record_when_they_were_last_used(api: Api) -> None:
    keys = api.get("/v1/api-keys").json()["data"]
    assert keys[0]["last_used_at"] is not None
