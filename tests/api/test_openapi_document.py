"""The OpenAPI document the API serves states every refusal of every operation (with the one
problem schema, as application/problem+json), every request body, and the limits the domain
enforces."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain import validation
from controlplane.domain.settings import Settings, normalize_database_url
from tests.api.conftest import ADMIN_TOKEN

METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM = {"$ref": "#/components/schemas/Problem"}
# operationId → the refusals it must document beyond those every /v1 operation has (401, 429, 503).
EXPECTED: dict[str, set[int]] = {
    "listApplications": {400},
    "createApplication": {400, 402, 403, 404, 409, 413, 415},
    "getApplication": {404},
    "updateApplication": {400, 403, 404, 409, 413, 415},
    "deleteApplication": {403, 404},
    "getConfigVars": {404},
    "updateConfigVars": {400, 403, 404, 413, 415},
    "listProcesses": {400, 404},
    "createProcess": {400, 402, 403, 404, 409, 413, 415},
    "getProcess": {404},
    "updateProcess": {400, 402, 403, 404, 412, 413, 415},
    "deleteProcess": {403, 404, 412},
    "triggerProcess": {400, 403, 404},
    "listProcessRuns": {400, 404},
    "putProcfile": {400, 402, 403, 404, 409, 413, 415},
    "listDeployments": {400, 404},
    "createDeployment": {400, 403, 404, 409, 413, 415},
    "rollbackDeployment": {400, 403, 404, 409, 413, 415},
    "getDeployment": {404},
    "cancelDeployment": {403, 404, 409},
    "listProcessResourceTypes": set(),
    "listApiKeys": {400, 403},
    "createApiKey": {400, 403, 404, 413, 415},
    "revokeApiKey": {403, 404, 409},
    "listTeams": {400, 403},
    "createTeam": {400, 403, 409, 413, 415},
    "getTeam": {404},
    "listInstances": {400, 404},
    "getInstance": {404},
    "listSamples": {400, 404},
    "getProcessMetric": {400, 404},
    "getAlertRules": {404},
    "updateAlertRules": {400, 403, 404, 413, 415},
    "listWebhookDeliveries": {400, 404},
    "getHeartbeat": {404},
    "putHeartbeat": {400, 403, 404, 413, 415},
    "deleteHeartbeat": {403, 404},
    "pingHeartbeat": {403, 404},
    "searchProcesses": {400},
    "listNodeInstances": {404},
}
EVERY_V1 = {401, 429, 503}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = normalize_database_url(f"sqlite:///{tmp_path_factory.mktemp('document') / 'procplane.db'}")
    with TestClient(create_app(Settings(database_url=url, bootstrap_token=ADMIN_TOKEN))) as client:
        response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def test_every_operation_is_known_to_this_test(document: dict[str, Any]) -> None:
    assert set(operations(document)) == set(EXPECTED) | {"healthz", "readyz"}


@pytest.mark.parametrize("operation_id", sorted(EXPECTED))
def test_every_refusal_is_documented_as_a_problem(document: dict[str, Any], operation_id: str) -> None:
    _, _, operation = operations(document)[operation_id]
    refusals = {int(status) for status in operation["responses"] if int(status) >= 400}
    assert refusals == EXPECTED[operation_id] | EVERY_V1
    for status in refusals:
        response = operation["responses"][str(status)]
        assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (status, response)
        assert response["description"]


def test_the_probes_document_only_readiness_failing(document: dict[str, Any]) -> None:
    found = operations(document)
    assert {status for status in found["healthz"][2]["responses"] if int(status) >= 400} == set()
    assert {status for status in found["readyz"][2]["responses"] if int(status) >= 400} == {"503"}


def test_the_problem_schema_has_the_members_problems_carry(document: dict[str, Any]) -> None:
    problem = component(document, "Problem")
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "message", "data"}
    assert {"errors", "field", "scope", "limit", "running_deployment_id"} <= set(problem["properties"])
    assert component(document, "ProblemData")["required"] == ["code", "message"]
    assert set(component(document, "FieldError")["required"]) == {"field", "code", "message"}


def test_no_litestar_validation_body_is_left(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document).values():
        for status, response in operation["responses"].items():
            assert "application/json" not in response.get("content", {}) or int(status) < 400, (method, path, status)


@pytest.mark.parametrize(
    "operation_id",
    sorted(op for op, statuses in EXPECTED.items() if 415 in statuses),
)
def test_every_operation_that_takes_a_body_documents_it(document: dict[str, Any], operation_id: str) -> None:
    _, _, operation = operations(document)[operation_id]
    assert operation["requestBody"]["required"] is True or operation_id == "createDeployment"
    assert operation["requestBody"]["content"]


def test_the_procfile_put_takes_text_or_an_app_json(document: dict[str, Any]) -> None:
    _, _, operation = operations(document)["putProcfile"]
    content = operation["requestBody"]["content"]
    assert content["text/plain"]["schema"] == {
        "type": "string",
        "maxLength": 64 * 1024,
        "description": "A Procfile, UTF-8",
    }
    app_json = content["application/json"]["schema"]
    assert app_json["required"] == ["cron"]
    assert app_json["properties"]["cron"]["items"]["required"] == ["command", "schedule"]


def test_request_bodies_refuse_unknown_fields(document: dict[str, Any]) -> None:
    for name in ("ApplicationCreate", "ProcessCreate", "ProcessUpdate", "Probe", "HorizontalScalingConfig"):
        assert component(document, name)["additionalProperties"] is False, name
    assert "additionalProperties" not in component(document, "ProcessOut")


def test_limits_the_domain_enforces_are_documented(document: dict[str, Any]) -> None:
    app = component(document, "ApplicationCreate")["properties"]
    assert (app["name"]["minLength"], app["name"]["maxLength"]) == (1, validation.APP_NAME_MAX)
    assert app["name"]["pattern"] == validation.DNS_LABEL.pattern
    assert app["image"]["maxLength"] == validation.IMAGE_MAX
    process = component(document, "ProcessCreate")["properties"]
    assert process["key"]["maxLength"] == validation.KEY_MAX
    assert process["display_name"]["maxLength"] == validation.DISPLAY_NAME_MAX
    assert (process["port"]["minimum"], process["port"]["maximum"]) == (0, 65535)
    assert process["job_retries"]["maximum"] == 10
    manual = component(document, "ManualScalingConfig")["properties"]["instanceCount"]
    assert (manual["minimum"], manual["maximum"]) == (0, validation.MAX_INSTANCES)
    horizontal = component(document, "HorizontalScalingConfig")["properties"]
    assert horizontal["minInstanceCount"]["minimum"] == 1
    assert horizontal["scaleUpIncrement"]["maximum"] == 5
    probe = component(document, "Probe")["properties"]
    assert (probe["periodSeconds"]["minimum"], probe["periodSeconds"]["maximum"]) == (1, 3600)
    assert component(document, "ApiKeyCreate")["properties"]["name"]["maxLength"] == validation.API_KEY_NAME_MAX
    heartbeat = component(document, "HeartbeatUpdate")["properties"]["interval_seconds"]
    assert (heartbeat["minimum"], heartbeat["maximum"]) == (1, 30 * 24 * 3600)
    config_vars = component(document, "ConfigVarsUpdate")["properties"]["vars"]
    assert config_vars["propertyNames"]["pattern"] == validation.CONFIG_VAR_KEY.pattern


def test_query_limits_are_documented(document: dict[str, Any]) -> None:
    found = operations(document)
    for operation_id in ("listApplications", "listProcesses", "listApiKeys", "listSamples"):
        parameters = {p["name"]: p["schema"] for p in found[operation_id][2]["parameters"] if p["in"] == "query"}
        assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 100), operation_id
        assert (parameters["offset"]["minimum"], parameters["offset"]["maximum"]) == (0, 10_000), operation_id
    search = {p["name"]: p["schema"] for p in found["searchProcesses"][2]["parameters"]}
    assert search["page[limit]"]["maximum"] == 100
    assert search["search"]["maxLength"] == 200
    metric = {p["name"]: p["schema"] for p in found["getProcessMetric"][2]["parameters"] if p["in"] == "query"}
    assert metric["interval_in_seconds"]["maximum"] == 86_400


def test_created_resources_link_to_the_operations_on_them(document: dict[str, Any]) -> None:
    found = operations(document)
    app_links = found["createApplication"][2]["responses"]["201"]["links"]
    assert app_links["createProcess"] == {
        "operationId": "createProcess",
        "parameters": {"app_id": "$response.body#/id"},
        "description": "createProcess on what createApplication returns",
    }
    process_links = found["createProcess"][2]["responses"]["200"]["links"]
    assert process_links["deleteProcess"]["parameters"] == {
        "app_id": "$response.body#/app_id",
        "process_id": "$response.body#/id",
    }
    conditional = found["getProcess"][2]["responses"]["200"]["links"]["updateProcessIfMatch"]
    assert conditional["parameters"]["header.If-Match"] == "$response.header.ETag"
    targets = {
        link["operationId"]
        for op in found.values()
        for r in op[2]["responses"].values()
        for link in r.get("links", {}).values()
    }
    assert targets <= set(found)
