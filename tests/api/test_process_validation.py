"""Every rule of the process contract, over HTTP on both databases: the exact status, problem
code and per-field errors, that one response names every bad field, and that a refused request
writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, assert_problem

Errors = set[tuple[str, str]]

BASES: dict[str, dict[str, Any]] = {
    "web": {"key": "site", "type": "web"},
    "worker": {"key": "worker", "type": "worker"},
    "cron": {"key": "cron", "type": "cron", "schedule": "0 * * * *", "time_zone": "UTC"},
    "job": {"key": "job", "type": "job"},
}
UNKNOWN_RESOURCE_TYPE = "00000000-0000-4000-8000-000000000000"


def manual(count: Any) -> dict[str, Any]:
    return {"type": "manual", "config": {"instanceCount": count}}


def horizontal(low: int = 1, high: int = 3, **config: Any) -> dict[str, Any]:
    return {"type": "horizontal", "config": {"minInstanceCount": low, "maxInstanceCount": high, **config}}


def http_probe(**timings: Any) -> dict[str, Any]:
    return {"httpGet": {"path": "/health", "port": 8080}, **timings}


HPA = "scaling_strategy.config"
# A valid five-field expression of exactly 100 characters.
SCHEDULE_100 = ",".join(["5"] * 45 + ["15"]) + " * * * *"

# (id, process type, fields over the base, the exact set of (field, code) errors)
RULES: list[tuple[str, str, dict[str, Any], Errors]] = [
    # key
    ("key-empty", "worker", {"key": ""}, {("key", "too_short")}),
    ("key-uppercase", "worker", {"key": "Worker"}, {("key", "invalid_format")}),
    ("key-underscore", "worker", {"key": "my_worker"}, {("key", "invalid_format")}),
    ("key-leading-dash", "worker", {"key": "-worker"}, {("key", "invalid_format")}),
    ("key-trailing-dash", "worker", {"key": "worker-"}, {("key", "invalid_format")}),
    ("key-dot", "worker", {"key": "a.b"}, {("key", "invalid_format")}),
    ("key-final-newline", "worker", {"key": "worker\n"}, {("key", "invalid_format")}),
    ("key-65", "worker", {"key": "a" * 65}, {("key", "too_long")}),
    ("key-300", "worker", {"key": "a" * 300}, {("key", "too_long")}),
    # "my-app-" is 7 characters: a 57-character key makes a 64-character object name.
    ("key-object-name-64", "worker", {"key": "a" * 57}, {("key", "too_long")}),
    # display_name
    ("display-name-empty", "worker", {"display_name": ""}, {("display_name", "too_short")}),
    ("display-name-256", "worker", {"display_name": "x" * 256}, {("display_name", "too_long")}),
    # entrypoint
    ("entrypoint-1025", "worker", {"entrypoint": "x" * 1025}, {("entrypoint", "too_long")}),
    # port
    ("port-0", "web", {"port": 0}, {("port", "out_of_range")}),
    ("port-65536", "web", {"port": 65536}, {("port", "out_of_range")}),
    ("port-negative", "web", {"port": -1}, {("port", "out_of_range")}),
    # web-only fields
    ("port-on-worker", "worker", {"port": 9000}, {("port", "not_allowed_for_type")}),
    ("ingress-on-worker", "worker", {"is_ingress_enabled": True}, {("is_ingress_enabled", "not_allowed_for_type")}),
    ("ingress-protocol-on-job", "job", {"ingress_protocol": "grpc"}, {("ingress_protocol", "not_allowed_for_type")}),
    ("liveness-on-worker", "worker", {"liveness_probe": http_probe()}, {("liveness_probe", "not_allowed_for_type")}),
    ("readiness-on-cron", "cron", {"readiness_probe": http_probe()}, {("readiness_probe", "not_allowed_for_type")}),
    # probes: handlers
    (
        "probe-two-handlers",
        "web",
        {"liveness_probe": {"httpGet": {"port": 8080}, "tcpSocket": {"port": 8080}}},
        {("liveness_probe", "probe_handler")},
    ),
    ("probe-no-handler", "web", {"readiness_probe": {"periodSeconds": 5}}, {("readiness_probe", "probe_handler")}),
    (
        "probe-exec-empty-command",
        "web",
        {"readiness_probe": {"exec": {"command": []}}},
        {("readiness_probe.exec.command", "required")},
    ),
    (
        "probe-http-path-relative",
        "web",
        {"liveness_probe": {"httpGet": {"path": "health", "port": 8080}}},
        {("liveness_probe.httpGet.path", "invalid_format")},
    ),
    (
        "probe-http-port-0",
        "web",
        {"liveness_probe": {"httpGet": {"port": 0}}},
        {("liveness_probe.httpGet.port", "out_of_range")},
    ),
    (
        "probe-tcp-port-65536",
        "web",
        {"readiness_probe": {"tcpSocket": {"port": 65536}}},
        {("readiness_probe.tcpSocket.port", "out_of_range")},
    ),
    (
        "probe-tcp-port-bad-name",
        "web",
        {"readiness_probe": {"tcpSocket": {"port": "Http_Port"}}},
        {("readiness_probe.tcpSocket.port", "invalid_format")},
    ),
    (
        "probe-grpc-port-0",
        "web",
        {"liveness_probe": {"grpc": {"port": 0}}},
        {("liveness_probe.grpc.port", "out_of_range")},
    ),
    # probes: timings
    *[
        (
            f"probe-{name}-{value}",
            "web",
            {"readiness_probe": http_probe(**{name: value})},
            {(f"readiness_probe.{name}", "out_of_range")},
        )
        for name, value in (
            ("initialDelaySeconds", -1),
            ("initialDelaySeconds", 3601),
            ("periodSeconds", 0),
            ("periodSeconds", 3601),
            ("timeoutSeconds", 0),
            ("timeoutSeconds", 3601),
            ("successThreshold", 0),
            ("successThreshold", 101),
            ("failureThreshold", 0),
            ("failureThreshold", 101),
            ("terminationGracePeriodSeconds", 0),
            ("terminationGracePeriodSeconds", 3601),
        )
    ],
    (
        "liveness-success-threshold-2",
        "web",
        {"liveness_probe": http_probe(successThreshold=2)},
        {("liveness_probe.successThreshold", "out_of_range")},
    ),
    # manual scaling
    ("instances-51", "worker", {"scaling_strategy": manual(51)}, {(f"{HPA}.instanceCount", "out_of_range")}),
    ("instances-negative", "web", {"scaling_strategy": manual(-1)}, {(f"{HPA}.instanceCount", "out_of_range")}),
    ("cron-instances-2", "cron", {"scaling_strategy": manual(2)}, {(f"{HPA}.instanceCount", "out_of_range")}),
    ("job-instances-2", "job", {"scaling_strategy": manual(2)}, {(f"{HPA}.instanceCount", "out_of_range")}),
    # horizontal scaling
    ("hpa-min-0", "web", {"scaling_strategy": horizontal(0, 3)}, {(f"{HPA}.minInstanceCount", "out_of_range")}),
    (
        "hpa-min-exceeds-max",
        "worker",
        {"scaling_strategy": horizontal(5, 3)},
        {(f"{HPA}.maxInstanceCount", "min_exceeds_max")},
    ),
    (
        "hpa-both-51",
        "web",
        {"scaling_strategy": horizontal(51, 51)},
        {(f"{HPA}.minInstanceCount", "out_of_range"), (f"{HPA}.maxInstanceCount", "out_of_range")},
    ),
    (
        "hpa-max-0",
        "web",
        {"scaling_strategy": horizontal(1, 0)},
        {(f"{HPA}.maxInstanceCount", "out_of_range"), (f"{HPA}.maxInstanceCount", "min_exceeds_max")},
    ),
    *[
        (
            f"hpa-{name}-{value}",
            "web",
            {"scaling_strategy": horizontal(**{name: value})},
            {(f"{HPA}.{name}", "out_of_range")},
        )
        for name, value in (
            ("targetCpuPercent", 0),
            ("targetCpuPercent", 101),
            ("targetMemoryPercent", 0),
            ("targetMemoryPercent", 101),
            ("scaleUpIntervalSeconds", 0),
            ("scaleUpIntervalSeconds", 60001),
            ("scaleDownIntervalSeconds", 0),
            ("scaleDownIntervalSeconds", 60001),
            ("scaleUpIncrement", 0),
            ("scaleUpIncrement", 6),
            ("scaleDownIncrement", 0),
            ("scaleDownIncrement", 6),
        )
    ],
    ("hpa-on-cron", "cron", {"scaling_strategy": horizontal()}, {("scaling_strategy.type", "not_allowed_for_type")}),
    ("hpa-on-job", "job", {"scaling_strategy": horizontal()}, {("scaling_strategy.type", "not_allowed_for_type")}),
    # schedule and time zone
    ("cron-without-schedule", "cron", {"schedule": None}, {("schedule", "required")}),
    ("cron-without-time-zone", "cron", {"time_zone": None}, {("time_zone", "required")}),
    ("schedule-on-worker", "worker", {"schedule": "0 * * * *"}, {("schedule", "not_allowed_for_type")}),
    ("time-zone-on-web", "web", {"time_zone": "UTC"}, {("time_zone", "not_allowed_for_type")}),
    ("schedule-three-fields", "cron", {"schedule": "* * *"}, {("schedule", "invalid_cron")}),
    ("schedule-six-fields", "cron", {"schedule": "0 0 * * * *"}, {("schedule", "invalid_cron")}),
    ("schedule-minute-61", "cron", {"schedule": "61 * * * *"}, {("schedule", "invalid_cron")}),
    ("schedule-unknown-macro", "cron", {"schedule": "@every5m"}, {("schedule", "invalid_cron")}),
    ("schedule-empty", "cron", {"schedule": ""}, {("schedule", "too_short")}),
    ("schedule-101", "cron", {"schedule": "5," + SCHEDULE_100}, {("schedule", "too_long")}),
    ("time-zone-mars", "cron", {"time_zone": "Mars/Olympus"}, {("time_zone", "invalid_time_zone")}),
    ("time-zone-empty", "cron", {"time_zone": ""}, {("time_zone", "too_short")}),
    ("time-zone-101", "cron", {"time_zone": "A" * 101}, {("time_zone", "too_long")}),
    # job start policy
    (
        "job-start-policy-on-worker",
        "worker",
        {"job_start_policy": "beforeDeployment"},
        {("job_start_policy", "not_allowed_for_type")},
    ),
    (
        "job-start-policy-on-cron",
        "cron",
        {"job_start_policy": "afterSuccessDeployment"},
        {("job_start_policy", "not_allowed_for_type")},
    ),
    # resource type
    (
        "resource-type-unknown",
        "worker",
        {"resource_type_id": UNKNOWN_RESOURCE_TYPE},
        {("resource_type_id", "unknown_resource_type")},
    ),
    ("resource-type-not-an-id", "web", {"resource_type_id": "s1"}, {("resource_type_id", "unknown_resource_type")}),
    # several at once
    (
        "many-fields",
        "web",
        {
            "key": "Site",
            "display_name": "",
            "port": 0,
            "liveness_probe": http_probe(successThreshold=3),
            "scaling_strategy": horizontal(4, 2, targetCpuPercent=0),
            "schedule": "* * *",
            "resource_type_id": UNKNOWN_RESOURCE_TYPE,
        },
        {
            ("key", "invalid_format"),
            ("display_name", "too_short"),
            ("port", "out_of_range"),
            ("liveness_probe.successThreshold", "out_of_range"),
            (f"{HPA}.maxInstanceCount", "min_exceeds_max"),
            (f"{HPA}.targetCpuPercent", "out_of_range"),
            ("schedule", "not_allowed_for_type"),
            ("resource_type_id", "unknown_resource_type"),
        },
    ),
    (
        "many-fields-cron",
        "cron",
        {
            "schedule": "0 0 * * * *",
            "time_zone": "Mars/Olympus",
            "scaling_strategy": horizontal(),
            "is_ingress_enabled": True,
            "job_start_policy": "beforeDeployment",
        },
        {
            ("schedule", "invalid_cron"),
            ("time_zone", "invalid_time_zone"),
            ("scaling_strategy.type", "not_allowed_for_type"),
            ("is_ingress_enabled", "not_allowed_for_type"),
            ("job_start_policy", "not_allowed_for_type"),
        },
    ),
]

# Refused while decoding, before any rule runs: one (field, code) each.
DECODING: list[tuple[str, Any, tuple[str, str]]] = [
    ("unknown-field", {**BASES["worker"], "bogus": 1}, ("bogus", "unknown_field")),
    ("read-only-id", {**BASES["worker"], "id": "x"}, ("id", "unknown_field")),
    ("read-only-cpu-limit", {**BASES["worker"], "cpu_limit": 500}, ("cpu_limit", "unknown_field")),
    ("read-only-hostname", {**BASES["web"], "internal_hostname": "x"}, ("internal_hostname", "unknown_field")),
    (
        "unknown-scaling-config-field",
        {**BASES["worker"], "scaling_strategy": {"type": "manual", "config": {"instanceCount": 1, "replicas": 2}}},
        (f"{HPA}.replicas", "unknown_field"),
    ),
    (
        "unknown-probe-field",
        {**BASES["web"], "liveness_probe": {"httpGet": {"port": 8080}, "retries": 3}},
        ("liveness_probe.retries", "unknown_field"),
    ),
    (
        "unknown-probe-action-field",
        {**BASES["web"], "liveness_probe": {"httpGet": {"port": 8080, "verb": "GET"}}},
        ("liveness_probe.httpGet.verb", "unknown_field"),
    ),
    (
        "snake-case-probe",
        {**BASES["web"], "liveness_probe": {"http_get": {"port": 1}}},
        (
            "liveness_probe.http_get",
            "unknown_field",
        ),
    ),
    ("type-choice", {"key": "w", "type": "daemon"}, ("type", "invalid_choice")),
    ("ingress-protocol-choice", {**BASES["web"], "ingress_protocol": "tcp"}, ("ingress_protocol", "invalid_choice")),
    ("job-start-policy-choice", {**BASES["job"], "job_start_policy": "never"}, ("job_start_policy", "invalid_choice")),
    (
        "scaling-type-choice",
        {**BASES["worker"], "scaling_strategy": {"type": "elastic", "config": {}}},
        ("scaling_strategy.type", "invalid_choice"),
    ),
    (
        "probe-scheme-choice",
        {**BASES["web"], "liveness_probe": {"httpGet": {"port": 8080, "scheme": "FTP"}}},
        ("liveness_probe.httpGet.scheme", "invalid_choice"),
    ),
    ("key-type", {"key": 5, "type": "worker"}, ("key", "invalid_type")),
    ("port-string", {**BASES["web"], "port": "8080"}, ("port", "invalid_type")),
    ("port-float", {**BASES["web"], "port": 80.5}, ("port", "invalid_type")),
    ("port-bool", {**BASES["web"], "port": True}, ("port", "invalid_type")),
    ("ingress-string", {**BASES["web"], "is_ingress_enabled": "true"}, ("is_ingress_enabled", "invalid_type")),
    ("entrypoint-list", {**BASES["worker"], "entrypoint": ["npm", "start"]}, ("entrypoint", "invalid_type")),
    ("display-name-null", {**BASES["worker"], "display_name": None}, ("display_name", "invalid_type")),
    ("scaling-string", {**BASES["worker"], "scaling_strategy": "manual"}, ("scaling_strategy", "invalid_type")),
    (
        "instance-count-string",
        {**BASES["worker"], "scaling_strategy": manual("2")},
        (f"{HPA}.instanceCount", "invalid_type"),
    ),
    ("probe-string", {**BASES["web"], "liveness_probe": "/health"}, ("liveness_probe", "invalid_type")),
    ("missing-type", {"key": "worker"}, ("type", "required")),
    (
        "missing-instance-count",
        {**BASES["worker"], "scaling_strategy": {"type": "manual", "config": {}}},
        (f"{HPA}.instanceCount", "required"),
    ),
    (
        "missing-max-instances",
        {**BASES["web"], "scaling_strategy": {"type": "horizontal", "config": {"minInstanceCount": 1}}},
        (f"{HPA}.maxInstanceCount", "required"),
    ),
    (
        "missing-scaling-config",
        {**BASES["web"], "scaling_strategy": {"type": "manual"}},
        ("scaling_strategy.config", "required"),
    ),
    (
        "missing-exec-command",
        {**BASES["web"], "liveness_probe": {"exec": {}}},
        ("liveness_probe.exec.command", "required"),
    ),
    # PostgreSQL text cannot hold NUL: refused the same way on both databases.
    ("nul-in-display-name", {**BASES["worker"], "display_name": "a\x00b"}, ("display_name", "invalid_character")),
    ("nul-in-entrypoint", {**BASES["worker"], "entrypoint": "run\x00"}, ("entrypoint", "invalid_character")),
    (
        "nul-in-probe-header",
        {**BASES["web"], "liveness_probe": {"httpGet": {"port": 80, "httpHeaders": [{"name": "a", "value": "\x00"}]}}},
        ("liveness_probe.httpGet.httpHeaders[0].value", "invalid_character"),
    ),
    ("body-array", [BASES["worker"]], ("body", "invalid_type")),
    ("body-string", "worker", ("body", "invalid_type")),
]


@pytest.fixture(scope="module")
def shared(module_api: Api) -> tuple[Api, str]:
    """One app per database for the refused requests: each case also proves it wrote nothing."""
    return module_api, str(module_api.create_app()["id"])


def errors_of(response: httpx.Response) -> Errors:
    body = assert_problem(response, 400, "validation_failed")
    return {(e["field"], e["code"]) for e in body["errors"]}


def assert_nothing_written(api: Api, app_id: str) -> None:
    listed = api.get(f"/v1/applications/{app_id}/processes").json()
    assert listed["total"] == 0
    assert listed["data"] == []


@pytest.mark.parametrize(
    ("process_type", "fields", "expected"),
    [pytest.param(t, f, e, id=i) for i, t, f, e in RULES],
)
def test_create_refuses(shared: tuple[Api, str], process_type: str, fields: dict[str, Any], expected: Errors) -> None:
    api, app_id = shared
    body = {**BASES[process_type], **fields}
    response = api.post(f"/v1/applications/{app_id}/processes", json=body)
    assert errors_of(response) == expected, response.text
    assert_nothing_written(api, app_id)


@pytest.mark.parametrize(("body", "expected"), [pytest.param(b, e, id=i) for i, b, e in DECODING])
def test_create_refuses_while_decoding(shared: tuple[Api, str], body: Any, expected: tuple[str, str]) -> None:
    api, app_id = shared
    response = api.post(f"/v1/applications/{app_id}/processes", json=body)
    assert errors_of(response) == {expected}, response.text
    assert_nothing_written(api, app_id)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"{not json", ("body", "invalid_json"), id="malformed"),
        pytest.param(b'{"key": "w", "type": "worker"', ("body", "invalid_json"), id="truncated"),
        pytest.param(b"", ("body", "required"), id="empty"),
        pytest.param(b"null", ("body", "invalid_type"), id="null"),
    ],
)
def test_create_refuses_a_body_that_is_not_an_object(
    shared: tuple[Api, str], content: bytes, expected: tuple[str, str]
) -> None:
    api, app_id = shared
    response = api.post(
        f"/v1/applications/{app_id}/processes", content=content, headers={"Content-Type": "application/json"}
    )
    assert errors_of(response) == {expected}, response.text
    assert_nothing_written(api, app_id)


def test_a_problem_names_every_field_in_its_detail(shared: tuple[Api, str]) -> None:
    api, app_id = shared
    response = api.post(f"/v1/applications/{app_id}/processes", json={**BASES["web"], "port": 0, "display_name": ""})
    body = assert_problem(response, 400, "validation_failed", "port")
    assert body["type"] == "https://procplane.dev/problems/validation-failed"
    assert body["title"]
    assert "display_name" in body["detail"]
    assert "port" in body["detail"]
    assert all(e["message"] for e in body["errors"])
    assert_nothing_written(api, app_id)


# ---- PATCH: the same rules on change, plus what may not change ----

PATCH_RULES: list[tuple[str, str, dict[str, Any], Errors]] = [
    ("type-change", "worker", {"type": "web"}, {("type", "immutable")}),
    ("type-change-cron-to-job", "cron", {"type": "job"}, {("type", "immutable")}),
    ("key-change", "web", {"key": "frontend"}, {("key", "immutable")}),
    ("key-and-type-change", "job", {"key": "migrate", "type": "worker"}, {("key", "immutable"), ("type", "immutable")}),
    ("port-0", "web", {"port": 0}, {("port", "out_of_range")}),
    ("display-name-empty", "worker", {"display_name": ""}, {("display_name", "too_short")}),
    ("schedule-on-worker", "worker", {"schedule": "0 * * * *"}, {("schedule", "not_allowed_for_type")}),
    ("clear-cron-schedule", "cron", {"schedule": None}, {("schedule", "required")}),
    ("clear-cron-time-zone", "cron", {"time_zone": None}, {("time_zone", "required")}),
    ("bad-cron", "cron", {"schedule": "* * *"}, {("schedule", "invalid_cron")}),
    ("bad-zone", "cron", {"time_zone": "Mars/Olympus"}, {("time_zone", "invalid_time_zone")}),
    ("hpa-on-cron", "cron", {"scaling_strategy": horizontal()}, {("scaling_strategy.type", "not_allowed_for_type")}),
    ("hpa-on-job", "job", {"scaling_strategy": horizontal()}, {("scaling_strategy.type", "not_allowed_for_type")}),
    ("instances-51", "web", {"scaling_strategy": manual(51)}, {(f"{HPA}.instanceCount", "out_of_range")}),
    ("probe-on-worker", "worker", {"readiness_probe": http_probe()}, {("readiness_probe", "not_allowed_for_type")}),
    ("ingress-on-worker", "worker", {"is_ingress_enabled": True}, {("is_ingress_enabled", "not_allowed_for_type")}),
    (
        "probe-two-handlers",
        "web",
        {"readiness_probe": {"exec": {"command": ["true"]}, "grpc": {"port": 9000}}},
        {("readiness_probe", "probe_handler")},
    ),
    (
        "job-start-policy-on-web",
        "web",
        {"job_start_policy": "afterFailedDeployment"},
        {("job_start_policy", "not_allowed_for_type")},
    ),
    (
        "unknown-resource-type",
        "job",
        {"resource_type_id": UNKNOWN_RESOURCE_TYPE},
        {("resource_type_id", "unknown_resource_type")},
    ),
    ("unknown-field", "web", {"replicas": 3}, {("replicas", "unknown_field")}),
    ("read-only-generation", "web", {"generation": 7}, {("generation", "unknown_field")}),
    ("type-choice", "web", {"type": "daemon"}, {("type", "invalid_choice")}),
    ("port-string", "web", {"port": "80"}, {("port", "invalid_type")}),
]


@pytest.fixture(scope="module")
def patch_targets(shared: tuple[Api, str]) -> Iterator[tuple[Api, dict[str, dict[str, Any]]]]:
    """A second application holding one valid process of each type."""
    api, _ = shared
    app_id = str(api.create_app("patch-targets")["id"])
    created = {name: api.create_process(app_id, **{**base, "key": name}) for name, base in BASES.items()}
    yield api, created
    assert api.delete(f"/v1/applications/{app_id}").status_code == 200


@pytest.mark.parametrize(
    ("target", "fields", "expected"),
    [pytest.param(t, f, e, id=i) for i, t, f, e in PATCH_RULES],
)
def test_patch_refuses(
    patch_targets: tuple[Api, dict[str, dict[str, Any]]], target: str, fields: dict[str, Any], expected: Errors
) -> None:
    api, created = patch_targets
    before = created[target]
    path = f"/v1/applications/{before['app_id']}/processes/{before['id']}"
    response = api.patch(path, json=fields)
    assert errors_of(response) == expected, response.text
    after = api.get(path)
    assert after.json() == before
    assert after.headers["etag"] == f'"{before["generation"]}"'


def test_second_web_process_is_refused(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="web", type="web")
    response = api.post(f"/v1/applications/{app_id}/processes", json={"key": "frontend", "type": "web"})
    assert errors_of(response) == {("type", "web_already_exists")}
    listed = api.get(f"/v1/applications/{app_id}/processes").json()
    assert [p["key"] for p in listed["data"]] == ["web"]


def test_web_already_exists_is_reported_with_other_errors(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="web", type="web")
    response = api.post(f"/v1/applications/{app_id}/processes", json={"key": "api", "type": "web", "port": 0})
    assert errors_of(response) == {("type", "web_already_exists"), ("port", "out_of_range")}


# ---- what is accepted ----


def test_web_with_every_field(api: Api, app_id: str) -> None:
    s2 = api.resource_type("s2")
    fields = {
        "key": "web",
        "type": "web",
        "display_name": "Web Process",
        "entrypoint": "npm start",
        "port": 3000,
        "is_ingress_enabled": True,
        "ingress_protocol": "grpc",
        "scaling_strategy": manual(50),
        "resource_type_id": s2["id"],
        "liveness_probe": {
            "httpGet": {
                "path": "/health",
                "port": "http",
                "scheme": "HTTPS",
                "host": "localhost",
                "httpHeaders": [{"name": "X-Probe", "value": "1"}],
            },
            "initialDelaySeconds": 0,
            "periodSeconds": 3600,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 100,
            "terminationGracePeriodSeconds": 3600,
        },
        "readiness_probe": {"grpc": {"port": 9000, "service": "ready"}, "successThreshold": 100},
    }
    created = api.create_process(app_id, **fields)
    for name, value in fields.items():
        assert created[name] == value, name
    assert (created["resource_type_name"], created["cpu_limit"], created["memory_limit"]) == ("s2", 1000, 1024)
    assert (created["schedule"], created["time_zone"], created["job_start_policy"]) == (None, None, None)


def test_web_defaults(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="web", type="web")
    assert created["port"] == 8080
    assert created["is_ingress_enabled"] is True
    assert created["ingress_protocol"] == "http"
    assert created["display_name"] == "web"
    assert created["entrypoint"] == ""  # the image's own command
    assert created["scaling_strategy"] == manual(1)
    assert created["resource_type_name"] == "s1"
    assert created["liveness_probe"] is None
    assert created["readiness_probe"] is None
    assert created["generation"] == 1


def test_probe_handlers_each_accepted(api: Api, app_id: str) -> None:
    probes = [
        {"exec": {"command": ["cat", "healthy"]}},
        {"httpGet": {"port": 8080}},
        {"tcpSocket": {"port": 8080, "host": "127.0.0.1"}},
        {"grpc": {"port": 8080}},
    ]
    process = api.create_process(app_id, key="web", type="web")
    path = f"/v1/applications/{app_id}/processes/{process['id']}"
    for probe in probes:
        response = api.patch(path, json={"liveness_probe": probe, "readiness_probe": probe})
        assert response.status_code == 200, response.text
        assert response.json()["liveness_probe"] == probe
        assert response.json()["readiness_probe"] == probe


def test_horizontal_scaling_reads_back_as_sent(api: Api, app_id: str) -> None:
    # Sevalla's Terraform provider refuses a value it did not set ("inconsistent result after
    # apply"): the defaults apply in the cluster (the HPA), not in what is stored and shown.
    created = api.create_process(app_id, key="web", type="web", scaling_strategy=horizontal(2, 10))
    assert created["scaling_strategy"] == {
        "type": "horizontal",
        "config": {"minInstanceCount": 2, "maxInstanceCount": 10},
    }


def test_horizontal_with_a_memory_target_gets_no_cpu_target(api: Api, app_id: str) -> None:
    config = {
        "targetMemoryPercent": 70,
        "scaleUpIntervalSeconds": 1,
        "scaleDownIntervalSeconds": 60000,
        "scaleUpIncrement": 5,
        "scaleDownIncrement": 5,
    }
    created = api.create_process(app_id, key="worker", type="worker", scaling_strategy=horizontal(1, 50, **config))
    assert created["scaling_strategy"] == horizontal(1, 50, **config)


def test_horizontal_with_both_targets_keeps_both(api: Api, app_id: str) -> None:
    created = api.create_process(
        app_id,
        key="worker",
        type="worker",
        scaling_strategy=horizontal(1, 1, targetCpuPercent=1, targetMemoryPercent=100),
    )
    config = created["scaling_strategy"]["config"]
    assert (config["targetCpuPercent"], config["targetMemoryPercent"]) == (1, 100)


def test_worker_defaults(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="worker", type="worker", entrypoint="celery -A app worker")
    assert created["is_ingress_enabled"] is False
    assert created["ingress_protocol"] is None
    assert created["port"] is None  # only a web process serves a port
    assert created["scaling_strategy"] == manual(1)
    assert created["job_start_policy"] is None


def test_worker_scaled_to_zero(api: Api, app_id: str) -> None:
    created = api.create_process(app_id, key="worker", type="worker", scaling_strategy=manual(0))
    assert created["scaling_strategy"] == manual(0)


@pytest.mark.parametrize(
    ("schedule", "time_zone"),
    [("0 * * * *", "America/New_York"), ("*/5 1-3 * * mon-fri", "Europe/Berlin"), ("@hourly", "UTC")],
)
def test_cron(api: Api, app_id: str, schedule: str, time_zone: str) -> None:
    created = api.create_process(
        app_id, key="report", type="cron", schedule=schedule, time_zone=time_zone, entrypoint="bin/report"
    )
    assert (created["schedule"], created["time_zone"]) == (schedule, time_zone)
    assert created["scaling_strategy"] == manual(1)
    assert created["is_ingress_enabled"] is False
    assert created["job_start_policy"] is None


def test_cron_suspended_with_zero_instances(api: Api, app_id: str) -> None:
    created = api.create_process(
        app_id, key="report", type="cron", schedule="0 0 * * *", time_zone="UTC", scaling_strategy=manual(0)
    )
    assert created["scaling_strategy"] == manual(0)


@pytest.mark.parametrize("policy", ["beforeDeployment", "afterSuccessDeployment", "afterFailedDeployment"])
def test_job_with_each_start_policy(api: Api, app_id: str, policy: str) -> None:
    created = api.create_process(app_id, key="migrate", type="job", job_start_policy=policy, entrypoint="migrate")
    assert created["job_start_policy"] == policy
    assert created["type"] == "job"
    assert created["scaling_strategy"] == manual(1)


def test_job_start_policy_defaults_to_before_deployment(api: Api, app_id: str) -> None:
    assert api.create_process(app_id, key="migrate", type="job")["job_start_policy"] == "beforeDeployment"


def test_longest_key_that_fits_an_object_name(api: Api, app_id: str) -> None:
    key = "k" * 56
    created = api.create_process(app_id, key=key, type="worker")
    assert created["key"] == key
    assert created["internal_hostname"].startswith(f"my-app-{key}.")
    assert len(f"my-app-{key}") == 63


def test_boundaries_are_inclusive(api: Api, app_id: str) -> None:
    created = api.create_process(
        app_id,
        key="w" * 1,
        type="web",
        display_name="d" * 255,
        entrypoint="e" * 1024,
        port=65535,
        scaling_strategy=manual(50),
    )
    assert (len(created["display_name"]), len(created["entrypoint"]), created["port"]) == (255, 1024, 65535)
    created = api.create_process(
        app_id,
        key="c",
        type="cron",
        schedule=SCHEDULE_100,
        time_zone="America/Argentina/Buenos_Aires",
    )
    assert len(created["schedule"]) == 100
