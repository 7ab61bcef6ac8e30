"""Nothing is lost when procplane restarts on the same database, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from controlplane.domain.settings import DEFAULT_RESOURCE_TYPES, Settings
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem, make_client


def everything(api: Api) -> dict[str, Any]:
    """Every read the API offers, keyed by path, with the ETag of each process."""
    seen: dict[str, Any] = {}
    for path in ("/v1/applications", "/v1/resources/process-resource-types", "/v1/api-keys"):
        seen[path] = api.get(path).json()
    for app in seen["/v1/applications"]["data"]:
        base = f"/v1/applications/{app['id']}"
        for path in (base, f"{base}/config-vars", f"{base}/processes"):
            seen[path] = api.get(path).json()
        for process in seen[f"{base}/processes"]["data"]:
            response = api.get(f"{base}/processes/{process['id']}")
            seen[f"{base}/processes/{process['id']}"] = (response.json(), response.headers["etag"])
    return seen


def populate(api: Api) -> tuple[str, dict[str, dict[str, Any]], str]:
    app = api.create_app("shop", display_name="Shop", image="ghcr.io/acme/shop:1.0")
    app_id = app["id"]
    made = {
        "web": api.create_process(
            app_id,
            key="web",
            type="web",
            entrypoint="npm start",
            ingress_protocol="grpc",
            liveness_probe={"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}},
            readiness_probe={"tcpSocket": {"port": 8080}, "periodSeconds": 5},
            resource_type_id=api.resource_type("s2")["id"],
        ),
        "worker": api.create_process(
            app_id,
            key="worker",
            type="worker",
            scaling_strategy={"type": "horizontal", "config": {"minInstanceCount": 2, "maxInstanceCount": 8}},
        ),
        "report": api.create_process(
            app_id, key="report", type="cron", schedule="0 * * * *", time_zone="America/New_York"
        ),
        "migrate": api.create_process(app_id, key="migrate", type="job", job_start_policy="afterFailedDeployment"),
    }
    path = f"/v1/applications/{app_id}/processes/{made['worker']['id']}"
    assert api.patch(path, json={"display_name": "Worker"}).status_code == 200
    assert api.patch(f"/v1/applications/{app_id}/config-vars", json={"vars": {"B": "2", "A": "1"}}).status_code == 200
    api.create_app("second")
    token: str = api.post("/v1/api-keys", json={"name": "ci", "role": "deployer"}).json()["token"]
    return app_id, made, token


def test_restart_keeps_everything(settings: Settings) -> None:
    with make_client(settings) as client:
        api = Api(client)
        app_id, made, token = populate(api)
        before = everything(api)
    with make_client(settings) as client:
        api = Api(client)
        assert everything(api) == before
        deployer = Api(client, token)
        assert deployer.get("/v1/applications").json() == before["/v1/applications"]
        # Generations carry on from where they were, and If-Match with a pre-restart ETag holds.
        path = f"/v1/applications/{app_id}/processes/{made['worker']['id']}"
        etag = before[path][1]
        assert etag == '"2"'
        response = deployer.patch(path, json={"display_name": "Workers"}, headers={"If-Match": etag})
        assert response.status_code == 200, response.text
        assert response.json()["generation"] == 3
        # Uniqueness survives too.
        assert_problem(api.post("/v1/applications", json={"name": "shop"}), 409, "duplicate_application")
        duplicate = api.post(f"/v1/applications/{app_id}/processes", json={"key": "web", "type": "web"})
        assert_problem(duplicate, 409, "duplicate_process")


def test_a_retired_resource_type_stays_on_its_processes(database_url: str) -> None:
    full = Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN)
    with make_client(full) as client:
        api = Api(client)
        app_id = api.create_app()["id"]
        s2 = api.resource_type("s2")
        process = api.create_process(app_id, key="web", type="web", resource_type_id=s2["id"])
    smaller = Settings(
        database_url=database_url,
        bootstrap_token=ADMIN_TOKEN,
        resource_types=tuple(t for t in DEFAULT_RESOURCE_TYPES if t.name != "s2"),
    )
    with make_client(smaller) as client:
        api = Api(client)
        names = [t["name"] for t in api.get("/v1/resources/process-resource-types").json()]
        assert "s2" not in names
        path = f"/v1/applications/{app_id}/processes/{process['id']}"
        assert api.get(path).json() == process
        # The process keeps its size through other changes, but nothing new may pick it.
        changed = api.patch(path, json={"port": 9000})
        assert changed.status_code == 200, changed.text
        assert changed.json()["resource_type_name"] == "s2"
        refused = api.post(
            f"/v1/applications/{app_id}/processes", json={"key": "w", "type": "worker", "resource_type_id": s2["id"]}
        )
        body = assert_problem(refused, 400, "validation_failed")
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("resource_type_id", "unknown_resource_type")]
        s1 = api.resource_type("s1")["id"]
        assert api.patch(path, json={"resource_type_id": s1}).status_code == 200
        back = api.patch(path, json={"resource_type_id": s2["id"]})
        assert_problem(back, 400, "validation_failed", "resource_type_id")
    with make_client(full) as client:
        # Back in the catalog under the same id.
        assert Api(client).resource_type("s2") == s2
