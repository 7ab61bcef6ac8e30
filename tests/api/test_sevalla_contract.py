"""Every process operation answers as Sevalla's published OpenAPI says, status codes included, on
SQLite and PostgreSQL; and the requests Sevalla's own clients send are taken as Sevalla takes them:
no `key` on create, blanks for fields a process's type does not take, the CLI's field names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controlplane.domain import observing
from controlplane.domain.settings import Settings
from tests.api.conftest import Api, assert_problem
from tests.api.sevalla_contract import assert_answers
from tests.api.test_observing_api import NOW, observe, pod

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
METRICS = {
    "cpu-usage": "getProcessCpuUsageV3",
    "cpu-limit": "getProcessCpuLimitV3",
    "memory-usage": "getProcessMemoryUsageV3",
    "memory-limit": "getProcessMemoryLimitV3",
    "instance-count": "getProcessInstanceCountV3",
}


def processes_path(app_id: str) -> str:
    return f"/v1/applications/{app_id}/processes"


def manual(count: int) -> dict[str, Any]:
    return {"type": "manual", "config": {"instanceCount": count}}


def create(api: Api, app_id: str, **fields: Any) -> dict[str, Any]:
    """A create as Sevalla's provider sends it: no key, a resource type id, a scaling strategy."""
    body = {"resource_type_id": api.resource_type("s1")["id"], "scaling_strategy": manual(1), **fields}
    created: dict[str, Any] = assert_answers("createProcessV3", api.post(processes_path(app_id), json=body))
    return created


def test_resource_types_are_a_bare_array_of_sevalla_categories(api: Api) -> None:
    catalog = assert_answers("listProcessResourceTypesV3", api.get("/v1/resources/process-resource-types"))
    assert {t["category"] for t in catalog} == {"standard", "memoryOptimized", "cpuOptimized"}


def test_create_get_list_update_delete_answer_as_documented(api: Api, app_id: str) -> None:
    web = create(api, app_id, display_name="Web Server", type="web", port=3000, entrypoint="npm start")
    assert (web["key"], web["port"], web["entrypoint"]) == ("web", 3000, "npm start")
    worker = create(api, app_id, display_name="Background Jobs!", type="worker")
    twin = create(api, app_id, display_name="background jobs", type="worker")
    nightly = create(api, app_id, display_name="Nightly report", type="cron", schedule="0 3 * * *")
    assert (worker["key"], twin["key"], nightly["key"]) == ("background-jobs", "background-jobs-2", "nightly-report")
    assert nightly["time_zone"] == "UTC"  # left out, as Sevalla's clients leave it out
    assert worker["entrypoint"] == ""  # none: the image's own command

    path = f"{processes_path(app_id)}/{web['id']}"
    fetched = assert_answers("getProcessV3", api.get(path))
    assert fetched == web
    listed = assert_answers("listProcessesV3", api.get(processes_path(app_id), params={"limit": 2, "offset": 1}))
    assert [p["id"] for p in listed["data"]] == [worker["id"], twin["id"]]
    assert (listed["total"], listed["offset"], listed["limit"]) == (4, 1, 2)

    scaled = assert_answers("updateProcessV3", api.patch(path, json={"scaling_strategy": manual(3)}))
    assert scaled["scaling_strategy"] == manual(3)
    gone = assert_answers("deleteProcessV3", api.delete(path))
    assert set(gone) == {"message"}
    assert_answers("getProcessV3", api.get(path))  # now a documented 404
    assert_problem(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("process_type", "fields", "blanks"),
    [
        # What Sevalla's Terraform provider sends on every change it plans.
        ("web", {"display_name": "Web"}, {"time_zone": "", "schedule": "", "job_start_policy": ""}),
        ("web", {"display_name": "Web"}, {"time_zone": None, "schedule": None, "job_start_policy": None}),
        (
            "cron",
            {"display_name": "Report", "schedule": "@daily", "time_zone": "Europe/Paris"},
            {"ingress_protocol": "", "port": 0, "is_ingress_enabled": False, "job_start_policy": ""},
        ),
        (
            "worker",
            {"display_name": "Worker"},
            {"ingress_protocol": None, "liveness_probe": None, "readiness_probe": None, "time_zone": ""},
        ),
        (
            "job",
            {"display_name": "Migrate", "job_start_policy": "beforeDeployment"},
            {"port": 0, "is_ingress_enabled": False, "ingress_protocol": "", "schedule": "", "time_zone": ""},
        ),
    ],
)
def test_blanks_for_fields_a_type_does_not_take_mean_no_value(
    api: Api, app_id: str, process_type: str, fields: dict[str, Any], blanks: dict[str, Any]
) -> None:
    created = create(api, app_id, type=process_type, **fields, **blanks)
    path = f"{processes_path(app_id)}/{created['id']}"
    changed = assert_answers("updateProcessV3", api.patch(path, json={**blanks, "display_name": "Renamed"}))
    assert changed["display_name"] == "Renamed"
    assert changed["generation"] == created["generation"] + 1
    assert {name: changed[name] for name in blanks} == {name: created[name] for name in blanks}
    # Sent alone, the blanks change nothing at all.
    unchanged = assert_answers("updateProcessV3", api.patch(path, json=blanks))
    assert unchanged == changed


@pytest.mark.parametrize(
    ("process_type", "fields", "blank", "code"),
    [
        ("web", {}, {"port": 0}, "out_of_range"),
        ("web", {}, {"ingress_protocol": ""}, "invalid_choice"),
        ("web", {}, {"display_name": ""}, "too_short"),
        ("cron", {"schedule": "@daily"}, {"schedule": ""}, "too_short"),
        ("cron", {"schedule": "@daily"}, {"time_zone": ""}, "too_short"),
        ("cron", {"schedule": "@daily"}, {"time_zone": None}, "required"),
        ("job", {"job_start_policy": "beforeDeployment"}, {"job_start_policy": ""}, "invalid_choice"),
    ],
)
def test_a_blank_for_a_field_the_type_takes_is_refused(
    api: Api, app_id: str, process_type: str, fields: dict[str, Any], blank: dict[str, Any], code: str
) -> None:
    (field,) = blank
    refused = assert_answers(
        "createProcessV3", api.post(processes_path(app_id), json={"type": process_type, **fields, **blank})
    )
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(field, code)]
    created = create(api, app_id, display_name="P", type=process_type, **fields)
    path = f"{processes_path(app_id)}/{created['id']}"
    problem = assert_answers("updateProcessV3", api.patch(path, json=blank))
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert api.get(path).json() == created


def test_error_bodies_carry_what_sevalla_clients_read(api: Api, app_id: str) -> None:
    refused = api.post(processes_path(app_id), json={"type": "web", "display_name": "", "port": 70000})
    problem = assert_answers("createProcessV3", refused)
    assert_problem(refused, 400, "validation_failed")
    assert problem["message"] == problem["detail"]
    assert "display_name: must be at least 1 characters" in problem["message"]
    assert "port: must be between 1 and 65535" in problem["message"]
    assert problem["data"] == {"code": "validation_failed", "message": problem["message"]}

    missing = api.get(f"{processes_path(app_id)}/{UNKNOWN_ID}")
    problem = assert_answers("getProcessV3", missing)
    assert (problem["status"], problem["data"]["code"]) == (404, "not_found")
    assert problem["message"]
    assert_answers("listProcessesV3", api.get(processes_path(UNKNOWN_ID)))
    assert_answers("listProcessesV3", api.as_key("pp_not_a_key").get(processes_path(app_id)))  # 401


def test_trigger_answers_a_message_and_records_a_run(api: Api, app_id: str) -> None:
    cron = create(api, app_id, display_name="Report", type="cron", schedule="@hourly")
    path = f"{processes_path(app_id)}/{cron['id']}"
    answer = assert_answers("triggerProcessCronV3", api.post(f"{path}/trigger"))
    (run,) = api.get(f"{path}/runs").json()["data"]
    assert run["id"] in answer["message"]


def test_metric_series_are_bare_lists_of_time_and_value(settings: Settings, api: Api, app_id: str) -> None:
    worker = create(api, app_id, display_name="Worker", type="worker", scaling_strategy=manual(2))
    usage = observing.Usage(cpu_millicores=100.0, memory_bytes=1000)
    observe(settings, worker["id"], [pod("w-1", "n"), pod("w-2", "n")], at=NOW - timedelta(minutes=2), usage=usage)
    window = {
        "from": (NOW - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "to": NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "interval_in_seconds": "60",
    }
    path = f"{processes_path(app_id)}/{worker['id']}/metrics"
    series = {name: assert_answers(op, api.get(f"{path}/{name}", params=window)) for name, op in METRICS.items()}
    assert {name: [p["value"] for p in points] for name, points in series.items()} == {
        "cpu-usage": [200.0],  # 100 millicores in each instance
        "cpu-limit": [1000.0],  # two instances of s1's 500 millicores
        "memory-usage": [2000.0],
        "memory-limit": [2 * 512 * 1024 * 1024.0],
        "instance-count": [2.0],
    }
    empty = {**window, "to": (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    assert assert_answers("getProcessCpuUsageV3", api.get(f"{path}/cpu-usage", params=empty)) == []


def test_the_cli_field_names_stand_for_the_fields(api: Api, app_id: str) -> None:
    body = {"name": "Queue Worker", "type": "worker", "command": "celery worker", "resource_type": "s2", "instances": 2}
    created = assert_answers("createProcessV3", api.post(processes_path(app_id), json=body))
    assert (created["key"], created["display_name"], created["entrypoint"]) == (
        "queue-worker",
        "Queue Worker",
        "celery worker",
    )
    assert (created["resource_type_name"], created["scaling_strategy"]) == ("s2", manual(2))
    path = f"{processes_path(app_id)}/{created['id']}"
    s3 = api.resource_type("s3")["id"]
    changed = assert_answers("updateProcessV3", api.patch(path, json={"resource_type": s3, "instances": 4}))
    assert (changed["resource_type_name"], changed["scaling_strategy"]) == ("s3", manual(4))
    both = api.patch(path, json={"name": "a", "display_name": "b"})
    assert [(e["field"], e["code"]) for e in assert_problem(both, 400, "validation_failed")["errors"]] == [
        ("name", "conflicting_fields")
    ]
    unknown = api.patch(path, json={"resource_type": "x9"})
    assert_problem(unknown, 400, "validation_failed", "resource_type")
    assert api.get(path).json() == changed


def test_operation_ids_are_stable_camel_case(api: Api) -> None:
    schema = api.client.get("/schema/openapi.json").json()
    ids = {op["operationId"] for methods in schema["paths"].values() for op in methods.values()}
    assert {"listProcesses", "createProcess", "getProcess", "updateProcess", "deleteProcess"} <= ids
    assert {"triggerProcess", "listProcessResourceTypes", "getProcessMetric", "listApplications"} <= ids
    assert all(op_id[0].islower() and "_" not in op_id for op_id in ids)


def test_a_horizontal_strategy_reads_back_exactly_as_sent(api: Api, app_id: str) -> None:
    # Terraform fails an apply whose answer holds a value the configuration did not set.
    sent = {"type": "horizontal", "config": {"minInstanceCount": 1, "maxInstanceCount": 3, "targetMemoryPercent": 70}}
    created = create(api, app_id, display_name="Worker", type="worker", scaling_strategy=sent)
    assert created["scaling_strategy"] == sent
    path = f"{processes_path(app_id)}/{created['id']}"
    assert assert_answers("getProcessV3", api.get(path))["scaling_strategy"] == sent
