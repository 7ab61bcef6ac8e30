"""Input that once made the API fail with a 500 (or be accepted when it should not), over HTTP on
both databases: each is now refused with its exact status, code and field, and writes nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from controlplane.api.strict_body import MAX_BODY_BYTES, MAX_JSON_DEPTH
from controlplane.domain import validation
from controlplane.domain.settings import Settings
from controlplane.store import db
from tests.api.conftest import Api, assert_problem

NUL = "a\x00b"
SECRET = "hunter2-do-not-log-me"


@pytest.fixture(scope="module")
def target(module_api: Api) -> dict[str, Any]:
    """An application with a web process, shared by the refusals of this module."""
    application = module_api.create_app("hardened")
    process = module_api.create_process(application["id"], key="web", type="web")
    return {"app": application["id"], "process": process["id"]}


def errors_of(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in body["errors"]}


def nested(depth: int) -> bytes:
    """`{"env": {"a": {"a": ... 1}}}`: an app.json whose ignored `env` section nests `depth` deep."""
    inner = b'{"a":' * (depth - 2) + b"1" + b"}" * (depth - 2)
    return b'{"cron": [{"command": "report", "schedule": "@daily"}], "env": {"x": ' + inner + b"}}"


# --- 1. times at the ends of what a datetime can hold ---------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("to", "0001-01-01T00:00:00"),
        ("from", "9999-12-31T23:59:59"),
        ("from", "0001-01-01T00:00:00+05:00"),
        ("to", "9998-12-31T23:59:59-14:00"),
        ("from", "-1"),
        ("to", "253402214401"),
    ],
)
@pytest.mark.parametrize("where", ["search", "metrics"])
def test_times_outside_the_documented_range_are_refused(
    module_api: Api, target: dict[str, Any], where: str, param: str, value: str
) -> None:
    path = (
        "/v1/processes"
        if where == "search"
        else f"/v1/applications/{target['app']}/processes/{target['process']}/metrics/cpu-usage"
    )
    body = assert_problem(module_api.get(path, params={param: value}), 400, "validation_failed", param)
    assert errors_of(body) == {(param, "out_of_range")}


def test_times_at_the_ends_of_the_range_are_answered(module_api: Api, target: dict[str, Any]) -> None:
    metric = f"/v1/applications/{target['app']}/processes/{target['process']}/metrics/cpu-usage"
    for params in ({"to": "1970-01-01T00:00:00Z"}, {"from": "9999-01-01T00:00:00Z"}, {"from": "0", "to": "60"}):
        response = module_api.get(metric, params=params)
        assert (response.status_code, response.json()) == (200, []), params
        search = module_api.get("/v1/processes", params=params)
        assert (search.status_code, search.json()["data"]) == (200, []), params


# --- 2. nesting that would exhaust the decoder's recursion ----------------------------------


def test_deeply_nested_bodies_are_refused(module_api: Api, target: dict[str, Any]) -> None:
    deep_object = b'{"a":' * 1000 + b"1" + b"}" * 1000
    deep_array = b"[" * 1000 + b"]" * 1000
    json_type = {"Content-Type": "application/json"}
    app = f"/v1/applications/{target['app']}"
    for path, method in (
        ("/v1/applications", "POST"),
        (f"{app}/processes", "POST"),
        (f"{app}/deployments", "POST"),
        (f"{app}/deployments/rollback", "POST"),
        (f"{app}/config-vars", "PATCH"),
        (f"{app}/processes/{target['process']}", "PATCH"),
    ):
        for content in (deep_object, deep_array):
            response = module_api.request(method, path, content=content, headers=json_type)
            body = assert_problem(response, 400, "validation_failed", "body")
            assert errors_of(body) == {("body", "too_deep")}, path
    many = b'{"vars": {"A": "1"}, "x": [' + b"[]," * 20_000 + b"[]]}"
    response = module_api.patch(f"{app}/config-vars", content=many, headers=json_type)
    assert errors_of(assert_problem(response, 400, "validation_failed")) == {("body", "too_many")}
    response = module_api.put(f"{app}/procfile", content=nested(1000), headers=json_type)
    assert errors_of(assert_problem(response, 400, "validation_failed")) == {("app_json", "too_deep")}
    assert module_api.get(f"{app}/processes").json()["total"] == 1


def test_nesting_up_to_the_limit_is_read(api: Api, app_id: str) -> None:
    json_type = {"Content-Type": "application/json"}
    refused = api.put(f"/v1/applications/{app_id}/procfile", content=nested(MAX_JSON_DEPTH + 1), headers=json_type)
    assert errors_of(assert_problem(refused, 400, "validation_failed")) == {("app_json", "too_deep")}
    accepted = api.put(f"/v1/applications/{app_id}/procfile", content=nested(MAX_JSON_DEPTH), headers=json_type)
    assert accepted.status_code == 200, accepted.text
    assert len(accepted.json()["created"]) == 1


# --- 3. NUL characters, which PostgreSQL cannot store or compare ----------------------------


def routes(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    document = api.get("/schema/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_a_nul_in_any_path_id_is_not_found(module_api: Api, target: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in routes(module_api):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        for name in names:
            # Every other id is a real one, so the NUL is what is refused.
            real = {"app_id": target["app"], "process_id": target["process"], "metric": "cpu-usage"}
            url = path
            for other in names:
                url = url.replace("{" + other + "}", "a%00b" if other == name else real.get(other, "x"))
            assert_problem(module_api.request(method, url), 404, "not_found")
            checked += 1
    assert checked >= 30  # every id of every route, the deployments and the heartbeat ping among them


def test_a_nul_in_any_query_parameter_is_refused(module_api: Api, target: dict[str, Any]) -> None:
    checked = set()
    for method, path, operation in routes(module_api):
        url = path.replace("{app_id}", target["app"]).replace("{process_id}", target["process"])
        url = url.replace("{metric}", "cpu-usage").replace("{route}", "_all/instances")
        url = url.replace("{release_id}", "x").replace("{key_id}", "x").replace("{name}", "x")
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            body = assert_problem(module_api.request(method, url, params={name: NUL}), 400, "validation_failed")
            assert errors_of(body) == {(name, "invalid_character")}, (method, path, name)
            checked.add(name)
    assert {"search", "tags", "from", "to", "page[cursor]", "limit", "offset", "prune"} <= checked
    # A parameter no route declares is refused as well: it reaches no query, but is no input either.
    body = assert_problem(module_api.get("/v1/processes", params={"x": NUL}), 400, "validation_failed", "x")
    body = assert_problem(
        module_api.get("/v1/processes", params={"tags": f"application:{NUL}"}), 400, "validation_failed"
    )
    assert errors_of(body) == {("tags", "invalid_character")}


def test_a_cursor_that_decodes_to_a_nul_is_refused(module_api: Api) -> None:
    raw = json.dumps(["2024-01-01T00:00:00+00:00", NUL]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    body = assert_problem(module_api.get("/v1/processes", params={"page[cursor]": cursor}), 400, "validation_failed")
    assert errors_of(body) == {("page[cursor]", "invalid_cursor")}


# --- 4. OPTIONS, and what a failure says ----------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/api-keys", "/v1/api-keys/x/revoke", "/v1/applications"])
def test_options_lists_the_methods_with_or_without_a_key(module_api: Api, path: str) -> None:
    for response in (module_api.client.options(path), module_api.request("OPTIONS", path)):
        assert response.status_code == 204, response.text
        assert "GET" in response.headers["allow"] or "POST" in response.headers["allow"]


def refuse_the_secret(settings: Settings) -> None:
    """Make the real database refuse to store SECRET: a fault it cannot be asked for otherwise.
    On PostgreSQL a check constraint, whose error DETAIL repeats the failing row; on SQLite a
    trigger, whose error the driver reports along with the statement's parameters."""
    if db.is_sqlite(settings.database_url):
        statement = (
            "CREATE TRIGGER refuse_secret BEFORE INSERT ON config_vars "
            f"WHEN NEW.value LIKE '%{SECRET}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    else:
        statement = f"ALTER TABLE config_vars ADD CONSTRAINT refuse_secret CHECK (value NOT LIKE '%{SECRET}%')"

    async def main() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_a_failed_write_leaks_no_value(
    api: Api, app_id: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    refuse_the_secret(settings)
    caplog.set_level(logging.DEBUG)
    response = api.patch(f"/v1/applications/{app_id}/config-vars", json={"vars": {"DATABASE_PASSWORD": SECRET}})
    body = assert_problem(response, 500, "internal_error")
    assert (body["title"], body["detail"], body["message"]) == ("Internal server error",) * 3
    assert SECRET not in response.text
    # The failure is logged (with its statement), the value is not.
    assert any("database error on PATCH" in record.getMessage() for record in caplog.records), caplog.text
    assert "INSERT INTO config_vars" in caplog.text
    assert SECRET not in caplog.text
    assert api.get(f"/v1/applications/{app_id}/config-vars").json()["keys"] == []
    assert "SQL parameters hidden" in failed_insert_error(settings, app_id)


def failed_insert_error(settings: Settings, app_id: str) -> str:
    """What the engine says of the same refused write: its statement, never its parameters."""

    async def main() -> str:
        engine = db.create_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO config_vars (app_id, key, value) VALUES (:app, 'K', :value)"),
                    {"app": app_id, "value": SECRET},
                )
        except DBAPIError as exc:
            return str(exc)
        finally:
            await engine.dispose()
        raise AssertionError("the database stored what it was made to refuse")

    return asyncio.run(main())


# --- 5. config vars fit the application's Secret; bodies are bounded ------------------------


def config_vars(api: Api, target: dict[str, Any]) -> list[str]:
    keys: list[str] = api.get(f"/v1/applications/{target['app']}/config-vars").json()["keys"]
    return keys


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({f"K{i}": "v" for i in range(validation.CONFIG_VARS_MAX + 1)}, {("vars", "too_many")}),
        ({"K" * 254: "v"}, {("vars." + "K" * 254, "too_long")}),
        ({"BIG": "x" * (validation.CONFIG_VAR_VALUE_MAX + 1)}, {("vars.BIG", "too_long")}),
        ({f"V{i}": "x" * validation.CONFIG_VAR_VALUE_MAX for i in range(17)}, {("vars", "too_large")}),
    ],
    ids=["too-many-keys", "key-too-long", "value-too-long", "total-too-large"],
)
def test_config_vars_are_bounded(
    module_api: Api, target: dict[str, Any], changes: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    path = f"/v1/applications/{target['app']}/config-vars"
    assert (
        errors_of(assert_problem(module_api.patch(path, json={"vars": changes}), 400, "validation_failed")) == expected
    )
    assert config_vars(module_api, target) == []


def test_config_var_limits_count_what_is_already_set(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/config-vars"
    most = {f"K{i:04}": "v" for i in range(validation.CONFIG_VARS_MAX)}
    assert api.patch(path, json={"vars": most}).status_code == 200
    one_more = assert_problem(api.patch(path, json={"vars": {"EXTRA": "v"}}), 400, "validation_failed")
    assert errors_of(one_more) == {("vars", "too_many")}
    # Unsetting one makes room for another in the same change.
    swapped = api.patch(path, json={"vars": {"K0000": None, "EXTRA": "v"}})
    assert swapped.status_code == 200, swapped.text
    assert len(swapped.json()["keys"]) == validation.CONFIG_VARS_MAX
    assert "EXTRA" in swapped.json()["keys"]
    big = {f"B{i}": "x" * validation.CONFIG_VAR_VALUE_MAX for i in range(15)}
    assert api.patch(path, json={"vars": {f"K{i:04}": None for i in range(1, 1000)}}).status_code == 200
    assert api.patch(path, json={"vars": big}).status_code == 200
    too_large = api.patch(path, json={"vars": {"B15": "x" * validation.CONFIG_VAR_VALUE_MAX}})
    assert errors_of(assert_problem(too_large, 400, "validation_failed")) == {("vars", "too_large")}
    assert "B15" not in api.get(path).json()["keys"]


def test_a_body_over_the_limit_is_refused_with_413(module_api: Api, target: dict[str, Any]) -> None:
    path = f"/v1/applications/{target['app']}/config-vars"
    content = json.dumps({"vars": {"A": "x" * MAX_BODY_BYTES}}).encode()
    response = module_api.patch(path, content=content, headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")
    assert config_vars(module_api, target) == []


# --- 7. a JSON body is declared as JSON -----------------------------------------------------


def json_bodies(target: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    app, process = (
        f"/v1/applications/{target['app']}",
        f"/v1/applications/{target['app']}/processes/{target['process']}",
    )
    return [
        ("POST", "/v1/applications", {"name": "plain"}),
        ("PATCH", app, {"display_name": "plain"}),
        ("PATCH", f"{app}/config-vars", {"vars": {"A": "1"}}),
        ("POST", f"{app}/processes", {"type": "worker", "key": "plain"}),
        ("PATCH", process, {"display_name": "plain"}),
        ("POST", f"{app}/deployments", {"image": "nginx:1.28"}),
        ("POST", f"{app}/deployments/rollback", {"release_id": "x"}),
        ("PATCH", f"{process}/alert-rules", {"alert_on_cpu": True}),
        ("PUT", f"{process}/heartbeat", {"interval_seconds": 60}),
        ("POST", "/v1/api-keys", {"name": "plain", "role": "viewer"}),
    ]


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_json_bodies_must_be_declared_as_json(
    module_api: Api, target: dict[str, Any], content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path, document in json_bodies(target):
        response = module_api.request(method, path, content=json.dumps(document).encode(), headers=headers)
        assert_problem(response, 415, "unsupported_media_type")
    assert module_api.get("/v1/applications").json()["total"] == 1
    assert module_api.get(f"/v1/applications/{target['app']}/deployments").json()["total"] == 0


def test_a_json_based_media_type_is_json(api: Api) -> None:
    response = api.post(
        "/v1/applications", content=b'{"name": "merged"}', headers={"Content-Type": "application/vnd.api+json"}
    )
    assert response.status_code == 201, response.text


# --- 8. a key given twice -------------------------------------------------------------------


def test_duplicate_keys_are_refused(module_api: Api, target: dict[str, Any]) -> None:
    json_type = {"Content-Type": "application/json"}
    app = f"/v1/applications/{target['app']}"
    cases = [
        ("POST", "/v1/applications", b'{"name": "a", "name": "b"}', ("name", "duplicate_key")),
        ("PATCH", f"{app}/config-vars", b'{"vars": {"A": "1", "A": "2"}}', ("A", "duplicate_key")),
        ("POST", f"{app}/processes", b'{"type": "worker", "key": "w", "type": "cron"}', ("type", "duplicate_key")),
    ]
    for method, path, content, error in cases:
        body = assert_problem(
            module_api.request(method, path, content=content, headers=json_type), 400, "validation_failed"
        )
        assert errors_of(body) == {error}, path
    app_json = b'{"cron": [{"command": "a", "schedule": "@daily", "schedule": "@hourly"}]}'
    body = assert_problem(
        module_api.put(f"{app}/procfile", content=app_json, headers=json_type), 400, "validation_failed"
    )
    assert errors_of(body) == {("schedule", "duplicate_key")}
    assert module_api.get("/v1/applications").json()["total"] == 1
    assert config_vars(module_api, target) == []
    assert module_api.get(f"{app}/processes").json()["total"] == 1


# --- 9. every body is decoded strictly ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "document", "expected"),
    [
        ("POST", "deployments", {"is_restart": "true"}, ("is_restart", "invalid_type")),
        ("POST", "deployments", {"image": "nginx:1.28", "is_restart": 0}, ("is_restart", "invalid_type")),
        ("POST", "deployments", {"image": "nginx:1.28", "force": True}, ("force", "unknown_field")),
        ("POST", "deployments/rollback", {"release_id": 1}, ("release_id", "invalid_type")),
        ("PATCH", "config-vars", {"vars": {"A": 1}}, ("vars", "invalid_type")),
    ],
)
def test_bodies_are_decoded_strictly(
    module_api: Api,
    target: dict[str, Any],
    method: str,
    path: str,
    document: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    response = module_api.request(method, f"/v1/applications/{target['app']}/{path}", json=document)
    assert errors_of(assert_problem(response, 400, "validation_failed")) == {expected}
    assert module_api.get(f"/v1/applications/{target['app']}/deployments").json()["total"] == 0


# --- 10. If-Match compares strongly ---------------------------------------------------------


def test_if_match_takes_strong_tags_only(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/processes/{api.create_process(app_id, key='worker', type='worker')['id']}"
    etag = api.get(path).headers["etag"]
    assert etag == '"1"'
    for header in ('W/"1"', "1", 'W/"1", "0"', '"1'):
        assert_problem(api.patch(path, json={"port": 1}, headers={"If-Match": header}), 412, "precondition_failed")
        assert_problem(api.delete(path, headers={"If-Match": header}), 412, "precondition_failed")
    assert api.get(path).headers["etag"] == '"1"'
    changed = api.patch(path, json={"display_name": "w"}, headers={"If-Match": 'W/"1", "1"'})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')
    assert api.delete(path, headers={"If-Match": "*"}).status_code == 200
