"""Processes over HTTP on both databases: the seed example, uniqueness, changes and their
generation, optimistic concurrency with ETag / If-Match, computed fields, lists and plan limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.domain.settings import Settings
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem, make_client

# The example values of the seed contract (001), every writable field.
SEED_PROCESS: dict[str, Any] = {
    "key": "web",
    "type": "web",
    "display_name": "Web Process",
    "entrypoint": "npm start",
    "port": 8080,
    "is_ingress_enabled": True,
    "ingress_protocol": "http",
    "scaling_strategy": {"type": "manual", "config": {"instanceCount": 1}},
    "liveness_probe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}},
    "readiness_probe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}},
}
SEED_CRON: dict[str, Any] = {
    "key": "report",
    "type": "cron",
    "display_name": "Hourly report",
    "entrypoint": "npm run report",
    "schedule": "0 * * * *",
    "time_zone": "America/New_York",
}
SEED_JOB: dict[str, Any] = {
    "key": "notify",
    "type": "job",
    "display_name": "Notify",
    "entrypoint": "npm run notify",
    "job_start_policy": "afterSuccessDeployment",
}
CATALOG = {
    "s1": ("standard", 500, 512),
    "s2": ("standard", 1000, 1024),
    "s3": ("standard", 2000, 2048),
    "s4": ("standard", 4000, 4096),
    "m2": ("memoryOptimized", 1000, 4096),
    "c2": ("cpuOptimized", 2000, 1024),
}


def process_path(process: dict[str, Any]) -> str:
    return f"/v1/applications/{process['app_id']}/processes/{process['id']}"


@pytest.mark.parametrize("example", [SEED_PROCESS, SEED_CRON, SEED_JOB], ids=["web", "cron", "job"])
def test_seed_examples_round_trip_exactly(api: Api, app_id: str, example: dict[str, Any]) -> None:
    s1 = api.resource_type("s1")
    response = api.post(f"/v1/applications/{app_id}/processes", json={**example, "resource_type_id": s1["id"]})
    assert response.status_code == 200, response.text
    created = response.json()
    for field, value in example.items():
        assert created[field] == value, field
    assert (created["resource_type_id"], created["resource_type_name"]) == (s1["id"], "s1")
    assert (created["cpu_limit"], created["memory_limit"]) == (500, 512)
    fetched = api.get(process_path(created))
    assert fetched.json() == created
    assert fetched.headers["etag"] == response.headers["etag"] == '"1"'


def test_process_fields_are_the_contract(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, **SEED_PROCESS)
    contract = {
        "id",
        "app_id",
        "key",
        "type",
        "display_name",
        "entrypoint",
        "port",
        "is_ingress_enabled",
        "ingress_protocol",
        "scaling_strategy",
        "resource_type_id",
        "resource_type_name",
        "cpu_limit",
        "memory_limit",
        "schedule",
        "time_zone",
        "job_start_policy",
        "liveness_probe",
        "readiness_probe",
        "internal_hostname",
        "created_at",
        "updated_at",
    }
    assert contract <= set(created)
    assert created["app_id"] == app_id


def test_duplicate_key(api: Api, app_id: str) -> None:
    first = api.create_process(app_id, key="worker", type="worker")
    response = api.post(f"/v1/applications/{app_id}/processes", json={"key": "worker", "type": "job"})
    body = assert_problem(response, 409, "duplicate_process")
    assert body["field"] == "key"
    listed = api.get(f"/v1/applications/{app_id}/processes").json()
    assert listed["data"] == [first]


def test_the_same_key_in_two_applications(api: Api, app_id: str) -> None:
    other = api.create_app("other")
    a = api.create_process(app_id, key="web", type="web")
    b = api.create_process(other["id"], key="web", type="web")
    assert a["id"] != b["id"]
    assert a["internal_hostname"].startswith("my-app-web.")
    assert b["internal_hostname"].startswith("other-web.")
    # A process is only reachable under its own application.
    assert_problem(api.get(f"/v1/applications/{other['id']}/processes/{a['id']}"), 404, "not_found")
    assert_problem(api.patch(f"/v1/applications/{other['id']}/processes/{a['id']}", json={"port": 1}), 404, "not_found")
    assert_problem(api.delete(f"/v1/applications/{other['id']}/processes/{a['id']}"), 404, "not_found")
    assert api.get(process_path(a)).json() == a


def test_unknown_process(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/processes/00000000-0000-4000-8000-000000000000"
    assert_problem(api.get(path), 404, "not_found")
    assert_problem(api.patch(path, json={"port": 1}), 404, "not_found")
    assert_problem(api.delete(path), 404, "not_found")


def test_generation_counts_effective_changes(api: Api, app_id: str) -> None:
    process = api.create_process(app_id, key="worker", type="worker")
    path = process_path(process)
    assert process["generation"] == 1
    steps: list[tuple[dict[str, Any], int]] = [
        ({"scaling_strategy": {"type": "manual", "config": {"instanceCount": 3}}}, 2),
        ({"scaling_strategy": {"type": "manual", "config": {"instanceCount": 3}}}, 2),
        ({"scaling_strategy": {"type": "horizontal", "config": {"minInstanceCount": 1, "maxInstanceCount": 4}}}, 3),
        ({"scaling_strategy": {"type": "horizontal", "config": {"minInstanceCount": 1, "maxInstanceCount": 4}}}, 3),
        # The stored form is what was sent, so naming the defaults is a change (the cluster runs the same).
        (
            {
                "scaling_strategy": {
                    "type": "horizontal",
                    "config": {
                        "minInstanceCount": 1,
                        "maxInstanceCount": 4,
                        "targetCpuPercent": 80,
                        "scaleUpIntervalSeconds": 60,
                        "scaleDownIntervalSeconds": 300,
                        "scaleUpIncrement": 1,
                        "scaleDownIncrement": 1,
                    },
                }
            },
            4,
        ),
        ({"display_name": "Worker", "entrypoint": "bin/work"}, 5),
        ({"display_name": "Worker", "entrypoint": "bin/work", "key": "worker", "type": "worker"}, 5),
        ({}, 5),
        ({"entrypoint": None}, 6),
    ]
    etag = '"1"'
    updated_at = process["updated_at"]
    for fields, generation in steps:
        response = api.patch(path, json=fields)
        assert response.status_code == 200, response.text
        changed = response.json()
        assert changed["generation"] == generation, fields
        assert response.headers["etag"] == f'"{generation}"'
        if response.headers["etag"] == etag:
            assert changed["updated_at"] == updated_at, fields
        etag, updated_at = response.headers["etag"], changed["updated_at"]
        assert api.get(path).json() == changed
    assert api.get(path).json()["entrypoint"] == ""


def test_sending_the_whole_object_back_changes_nothing(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, **SEED_PROCESS)
    writable = {k: created[k] for k in (*SEED_PROCESS, "resource_type_id", "schedule", "time_zone", "job_start_policy")}
    response = api.patch(process_path(created), json=writable)
    assert response.status_code == 200, response.text
    assert response.json() == created
    assert response.headers["etag"] == '"1"'


def test_patch_keeps_fields_it_does_not_name(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, **SEED_PROCESS)
    response = api.patch(process_path(created), json={"port": 3000})
    changed = response.json()
    assert changed["port"] == 3000
    for field in ("display_name", "entrypoint", "liveness_probe", "readiness_probe", "scaling_strategy"):
        assert changed[field] == created[field], field


def test_null_clears_an_optional_field(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, **SEED_PROCESS)
    path = process_path(created)
    response = api.patch(path, json={"liveness_probe": None, "ingress_protocol": None})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["liveness_probe"] is None
    assert changed["ingress_protocol"] is None
    assert changed["readiness_probe"] == SEED_PROCESS["readiness_probe"]
    assert changed["generation"] == 2
    assert api.get(path).json() == changed


def test_etag_and_if_match_on_patch(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="web", type="web")
    path = process_path(created)
    read = api.get(path)
    assert read.headers["etag"] == '"1"'
    first = api.patch(path, json={"port": 9000}, headers={"If-Match": read.headers["etag"]})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    # A writer still holding the first ETag lost the race.
    stale = api.patch(path, json={"port": 9001}, headers={"If-Match": read.headers["etag"]})
    assert_problem(stale, 412, "precondition_failed")
    assert api.get(path).json()["port"] == 9000
    # Each accepted form of If-Match, against the current generation (2, 3, 4, 5): one change each.
    for generation, header in enumerate(('"2"', "*", 'W/"4", "4"', '"999", "5"'), start=2):
        response = api.patch(path, json={"display_name": f"web {generation}"}, headers={"If-Match": header})
        assert response.status_code == 200, (header, response.text)
        assert response.headers["etag"] == f'"{generation + 1}"'
    assert_problem(api.patch(path, json={"port": 1}, headers={"If-Match": '"5", W/"4"'}), 412, "precondition_failed")
    # If-Match compares strongly: the current tag, marked weak, does not match.
    assert_problem(api.patch(path, json={"port": 1}, headers={"If-Match": 'W/"6"'}), 412, "precondition_failed")


def test_if_match_is_checked_before_the_body(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="web", type="web")
    response = api.patch(process_path(created), json={"port": 0}, headers={"If-Match": '"5"'})
    assert_problem(response, 412, "precondition_failed")


def test_etag_and_if_match_on_delete(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="web", type="web")
    path = process_path(created)
    api.patch(path, json={"port": 9000})
    assert_problem(api.delete(path, headers={"If-Match": '"1"'}), 412, "precondition_failed")
    assert api.get(path).status_code == 200
    assert api.delete(path, headers={"If-Match": '"2"'}).status_code == 200
    assert_problem(api.get(path), 404, "not_found")
    assert_problem(api.delete(path, headers={"If-Match": "*"}), 404, "not_found")
    other = api.create_process(app_id, key="worker", type="worker")
    assert api.delete(process_path(other), headers={"If-Match": "*"}).status_code == 200
    assert api.get(f"/v1/applications/{app_id}/processes").json()["total"] == 0


def test_delete_without_if_match(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="web", type="web")
    assert api.delete(process_path(created)).status_code == 200
    # The key and the web slot are free again.
    again = api.create_process(app_id, key="web", type="web")
    assert again["id"] != created["id"]
    assert again["generation"] == 1


def test_internal_hostname(api: Api, app_id: str) -> None:
    app = api.get(f"/v1/applications/{app_id}").json()
    created = api.create_process(app_id, key="api-v2", type="worker")
    assert created["internal_hostname"] == f"my-app-api-v2.{app['namespace']}.svc.cluster.local"


def test_internal_hostname_follows_the_cluster_domain(database_url: str) -> None:
    settings = Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN, cluster_domain="corp.internal")
    with make_client(settings) as client:
        api = Api(client)
        app = api.create_app("shop")
        created = api.create_process(app["id"], key="web", type="web")
        assert created["internal_hostname"] == f"shop-web.{app['namespace']}.svc.corp.internal"


def test_resource_type_catalog(api: Api) -> None:
    response = api.get("/v1/resources/process-resource-types")
    assert response.status_code == 200
    data = response.json()
    assert {t["name"]: (t["category"], t["cpu_limit"], t["memory_limit"]) for t in data} == CATALOG
    assert all(set(t) == {"id", "name", "category", "cpu_limit", "memory_limit"} for t in data)
    assert len({t["id"] for t in data}) == len(CATALOG)


def test_limits_are_computed_from_the_resource_type(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="worker", type="worker")
    assert (created["resource_type_name"], created["cpu_limit"], created["memory_limit"]) == ("s1", 500, 512)
    path = process_path(created)
    for name, (_, cpu, memory) in CATALOG.items():
        type_id = api.resource_type(name)["id"]
        changed = api.patch(path, json={"resource_type_id": type_id}).json()
        assert (changed["resource_type_id"], changed["resource_type_name"]) == (type_id, name)
        assert (changed["cpu_limit"], changed["memory_limit"]) == (cpu, memory)
    response = api.patch(path, json={"cpu_limit": 8000})
    assert_problem(response, 400, "validation_failed", "cpu_limit")


def test_list_pagination(api: Api, app_id: str) -> None:
    created = [api.create_process(app_id, key=f"worker-{i}", type="worker") for i in range(5)]
    base = f"/v1/applications/{app_id}/processes"
    assert api.get(base).json() == {"data": created, "total": 5, "offset": 0, "limit": 25}
    assert api.get(base, params={"limit": 2}).json() == {"data": created[:2], "total": 5, "offset": 0, "limit": 2}
    assert api.get(base, params={"limit": 2, "offset": 2}).json()["data"] == created[2:4]
    assert api.get(base, params={"limit": 2, "offset": 4}).json()["data"] == created[4:]
    assert api.get(base, params={"offset": 5}).json() == {"data": [], "total": 5, "offset": 5, "limit": 25}
    other = api.create_app("other")
    assert api.get(f"/v1/applications/{other['id']}/processes").json()["total"] == 0


# ---- plan limits ----


@pytest.fixture
def limited(database_url: str) -> Iterator[Api]:
    settings = Settings(
        database_url=database_url,
        bootstrap_token=ADMIN_TOKEN,
        max_processes_per_application=2,
        max_instances_per_process=3,
    )
    with make_client(settings) as client:
        yield Api(client)


def test_plan_limit_per_application(limited: Api) -> None:
    api = limited
    app_id = api.create_app()["id"]
    first = api.create_process(app_id, key="web", type="web")
    api.create_process(app_id, key="worker", type="worker")
    response = api.post(f"/v1/applications/{app_id}/processes", json={"key": "job", "type": "job"})
    body = assert_problem(response, 402, "plan_limit_reached")
    assert (body["scope"], body["limit"]) == ("per_application", 2)
    assert body["type"] == "https://procplane.dev/problems/plan-limit-reached"
    assert api.get(f"/v1/applications/{app_id}/processes").json()["total"] == 2
    # The limit is per application, and deleting frees a slot.
    other = api.create_app("other")["id"]
    api.create_process(other, key="job", type="job")
    assert api.delete(process_path(first)).status_code == 200
    api.create_process(app_id, key="job", type="job")


def test_invalid_fields_are_reported_before_the_plan_limit(limited: Api) -> None:
    api = limited
    app_id = api.create_app()["id"]
    api.create_process(app_id, key="a", type="worker")
    api.create_process(app_id, key="b", type="worker")
    response = api.post(f"/v1/applications/{app_id}/processes", json={"key": "C", "type": "worker"})
    assert_problem(response, 400, "validation_failed", "key")


@pytest.mark.parametrize(
    "scaling",
    [
        {"type": "manual", "config": {"instanceCount": 4}},
        {"type": "horizontal", "config": {"minInstanceCount": 1, "maxInstanceCount": 4}},
    ],
)
def test_plan_limit_per_process(limited: Api, scaling: dict[str, Any]) -> None:
    api = limited
    app_id = api.create_app()["id"]
    response = api.post(
        f"/v1/applications/{app_id}/processes", json={"key": "web", "type": "web", "scaling_strategy": scaling}
    )
    body = assert_problem(response, 402, "plan_limit_reached")
    assert (body["scope"], body["limit"]) == ("per_process", 3)
    assert api.get(f"/v1/applications/{app_id}/processes").json()["total"] == 0
    created = api.create_process(app_id, key="web", type="web")
    response = api.patch(process_path(created), json={"scaling_strategy": scaling})
    body = assert_problem(response, 402, "plan_limit_reached")
    assert (body["scope"], body["limit"]) == ("per_process", 3)
    assert api.get(process_path(created)).json() == created
    at_limit = {"type": "manual", "config": {"instanceCount": 3}}
    assert api.patch(process_path(created), json={"scaling_strategy": at_limit}).status_code == 200


def test_deleting_a_process_or_its_application_takes_its_runs(api: Api, app_id: str) -> None:
    cron = api.create_process(app_id, key="report", type="cron", schedule="@hourly", time_zone="UTC")
    other = api.create_process(app_id, key="cleanup", type="cron", schedule="@daily", time_zone="UTC")
    for process in (cron, other):
        assert api.post(f"{process_path(process)}/trigger").status_code == 200
    assert len(api.get(f"{process_path(cron)}/runs").json()["data"]) == 1
    assert api.delete(process_path(cron)).status_code == 200
    assert_problem(api.get(f"{process_path(cron)}/runs"), 404, "not_found")
    assert api.delete(f"/v1/applications/{app_id}").status_code == 200
    assert_problem(api.get(process_path(other)), 404, "not_found")


def test_only_a_cron_process_runs_on_demand(api: Api, app_id: str) -> None:
    for key, process_type in (("web", "web"), ("worker", "worker"), ("migrate", "job")):
        process = api.create_process(app_id, key=key, type=process_type)
        body = assert_problem(api.post(f"{process_path(process)}/trigger"), 400, "validation_failed")
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("type", "not_allowed_for_type")]
        assert api.get(f"{process_path(process)}/runs").json() == {"data": [], "total": 0, "offset": 0, "limit": 25}
