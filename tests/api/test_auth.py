"""API keys and roles over HTTP on both databases: who may call what, tokens shown once and
stored only as hashes, the bootstrap token's first-start-only rule, and the open endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from controlplane.domain.settings import Settings
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem, make_client

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def new_key(api: Api, role: str, name: str | None = None) -> dict[str, Any]:
    response = api.post("/v1/api-keys", json={"name": name or f"{role} key", "role": role})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def make_world(api: Api) -> dict[str, str]:
    """An application with a web and a cron process, plus a key to revoke."""
    app = api.create_app("shop")
    web = api.create_process(app["id"], key="web", type="web")
    cron = api.create_process(app["id"], key="report", type="cron", schedule="@hourly", time_zone="UTC")
    spare = new_key(api, "viewer", "spare")
    return {"app": app["id"], "web": web["id"], "cron": cron["id"], "key": spare["id"]}


@pytest.fixture
def world(api: Api) -> dict[str, str]:
    return make_world(api)


@pytest.fixture(scope="module")
def shared_world(module_api: Api) -> dict[str, str]:
    return make_world(module_api)


def write_requests(w: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    app = f"/v1/applications/{w['app']}"
    return [
        ("POST", "/v1/applications", {"json": {"name": "other"}}),
        ("PATCH", app, {"json": {"display_name": "x"}}),
        ("DELETE", app, {}),
        ("PATCH", f"{app}/config-vars", {"json": {"vars": {"A": "1"}}}),
        ("POST", f"{app}/processes", {"json": {"key": "worker", "type": "worker"}}),
        ("PATCH", f"{app}/processes/{w['web']}", {"json": {"port": 9000}}),
        ("DELETE", f"{app}/processes/{w['web']}", {}),
        ("POST", f"{app}/processes/{w['cron']}/trigger", {}),
        ("PUT", f"{app}/procfile", {"content": b"worker: a\n", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/v1/api-keys", {"json": {"name": "mine", "role": "admin"}}),
        ("POST", f"/v1/api-keys/{w['key']}/revoke", {}),
    ]


def read_requests(w: dict[str, str]) -> list[str]:
    app = f"/v1/applications/{w['app']}"
    return [
        "/v1/applications",
        app,
        f"{app}/config-vars",
        f"{app}/processes",
        f"{app}/processes/{w['web']}",
        f"{app}/processes/{w['cron']}/runs",
        "/v1/resources/process-resource-types",
    ]


def snapshot(api: Api, w: dict[str, str]) -> list[Any]:
    """Everything the write requests could touch, read with the admin key."""
    return [api.get(path).json() for path in read_requests(w)] + [api.get("/v1/api-keys").json()]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": "Bearer pp_not_a_key"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"X-Api-Key": ADMIN_TOKEN},
    ],
    ids=["none", "empty", "no-token", "blank-token", "basic", "no-scheme", "unknown", "near-miss", "other-header"],
)
def test_unauthenticated_requests_are_refused(
    module_api: Api, shared_world: dict[str, str], headers: dict[str, str]
) -> None:
    api, world = module_api, shared_world
    before = snapshot(api, world)
    for path in read_requests(world):
        response = api.client.get(path, headers=headers)
        body = assert_problem(response, 401, "unauthorized")
        assert body["type"] == "https://procplane.dev/problems/unauthorized"
    for method, path, kwargs in write_requests(world):
        extra = kwargs.get("headers", {})
        response = api.client.request(method, path, **{**kwargs, "headers": {**extra, **headers}})
        assert_problem(response, 401, "unauthorized")
    assert snapshot(api, world) == before


def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = api.client.get("/v1/applications", headers={"Authorization": f"bearer  {ADMIN_TOKEN} "})
    assert response.status_code == 200, response.text


def test_viewer_reads_but_never_writes(api: Api, world: dict[str, str]) -> None:
    viewer = api.as_key(new_key(api, "viewer")["token"])
    for path in read_requests(world):
        response = viewer.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == api.get(path).json()
    before = snapshot(api, world)
    for method, path, kwargs in write_requests(world):
        response = viewer.request(method, path, **kwargs)
        assert_problem(response, 403, "forbidden")
    assert snapshot(api, world) == before
    assert_problem(viewer.get("/v1/api-keys"), 403, "forbidden")


def test_a_viewer_is_refused_before_the_body_is_read(api: Api, world: dict[str, str]) -> None:
    viewer = api.as_key(new_key(api, "viewer")["token"])
    response = viewer.post(f"/v1/applications/{world['app']}/processes", json={"key": "BAD", "bogus": 1})
    assert_problem(response, 403, "forbidden")


def test_deployer_writes_applications_and_processes(api: Api, world: dict[str, str]) -> None:
    deployer = api.as_key(new_key(api, "deployer")["token"])
    app = deployer.create_app("deployed")
    base = f"/v1/applications/{app['id']}"
    assert deployer.patch(base, json={"image": "nginx:1.28"}).status_code == 200
    assert deployer.patch(f"{base}/config-vars", json={"vars": {"A": "1"}}).status_code == 200
    process = deployer.create_process(app["id"], key="web", type="web")
    assert deployer.patch(f"{base}/processes/{process['id']}", json={"port": 9000}).status_code == 200
    procfile = deployer.put(f"{base}/procfile", content=b"worker: a\n", headers={"Content-Type": "text/plain"})
    assert procfile.status_code == 200, procfile.text
    assert deployer.delete(f"{base}/processes/{process['id']}").status_code == 200
    assert deployer.delete(base).status_code == 200


def unused(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """The keys without `last_used_at`, which any authenticated call may move forward."""
    return [{k: v for k, v in key.items() if k != "last_used_at"} for key in listing["data"]]


def test_deployer_cannot_manage_api_keys(api: Api, world: dict[str, str]) -> None:
    deployer = api.as_key(new_key(api, "deployer")["token"])
    before = api.get("/v1/api-keys").json()
    assert_problem(deployer.get("/v1/api-keys"), 403, "forbidden")
    assert_problem(deployer.post("/v1/api-keys", json={"name": "escalate", "role": "admin"}), 403, "forbidden")
    assert_problem(deployer.post(f"/v1/api-keys/{world['key']}/revoke"), 403, "forbidden")
    assert unused(api.get("/v1/api-keys").json()) == unused(before)


def test_a_created_token_is_shown_once_and_works(api: Api) -> None:
    created = new_key(api, "deployer", "ci")
    token = created.pop("token")
    key = created
    assert token.startswith("pp_")
    assert len(token) >= 40
    assert set(key) == {"id", "name", "role", "team_id", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert (key["name"], key["role"], key["prefix"], key["revoked_at"]) == ("ci", "deployer", token[:10], None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", key["created_at"])
    assert api.as_key(token).get("/v1/applications").status_code == 200
    listing = api.get("/v1/api-keys")
    assert token not in listing.text
    listed = {k["id"]: k for k in listing.json()["data"]}
    assert listed[key["id"]]["last_used_at"] is not None  # the call just above used it
    assert {**listed[key["id"]], "last_used_at": None} == key
    assert [k["name"] for k in listing.json()["data"]] == ["bootstrap", "ci"]
    assert listed[key["id"]]["prefix"] == token[:10]
    # Two keys never share a token.
    assert new_key(api, "deployer", "ci")["token"] != token


def test_revoke(api: Api) -> None:
    new_key(api, "admin", "keeps the team managed")  # the last admin of a team cannot be revoked
    created = new_key(api, "admin", "ops")
    ops = api.as_key(created["token"])
    assert ops.get("/v1/api-keys").status_code == 200
    response = api.post(f"/v1/api-keys/{created['id']}/revoke")
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["revoked_at"] is not None
    assert_problem(ops.get("/v1/applications"), 401, "unauthorized")
    # Revoking twice changes nothing, and the key stays listed for the audit trail.
    assert api.post(f"/v1/api-keys/{created['id']}/revoke").json() == revoked
    listed = {k["id"]: k for k in api.get("/v1/api-keys").json()["data"]}
    assert listed[created["id"]] == revoked
    assert_problem(api.post(f"/v1/api-keys/{UNKNOWN_ID}/revoke"), 404, "not_found")


def test_an_admin_may_revoke_its_own_key(api: Api) -> None:
    first, other = new_key(api, "admin", "first admin"), new_key(api, "admin", "second admin")
    admin = api.as_key(first["token"])
    assert admin.post(f"/v1/api-keys/{first['id']}/revoke").status_code == 200
    assert_problem(admin.get("/v1/applications"), 401, "unauthorized")
    assert api.as_key(other["token"]).get("/v1/api-keys").status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "", "role": "admin"}, ("name", "too_short")),
        ({"name": "x" * 101, "role": "admin"}, ("name", "too_long")),
        ({"name": "x", "role": "root"}, ("role", "invalid_choice")),
        ({"name": "x"}, ("role", "required")),
        ({"role": "viewer"}, ("name", "required")),
        ({"name": "x", "role": "viewer", "token": "pp_chosen"}, ("token", "unknown_field")),
        ({"name": 1, "role": "viewer"}, ("name", "invalid_type")),
    ],
)
def test_create_key_refuses(module_api: Api, body: dict[str, Any], expected: tuple[str, str]) -> None:
    api = module_api
    before = api.get("/v1/api-keys").json()
    problem = assert_problem(api.post("/v1/api-keys", json=body), 400, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [expected]
    assert api.get("/v1/api-keys").json() == before


def test_key_name_limits_are_inclusive(api: Api) -> None:
    assert new_key(api, "viewer", "x" * 100)["name"] == "x" * 100
    assert new_key(api, "viewer", "x")["name"] == "x"


async def _rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            tables: dict[str, list[dict[str, Any]]] = {}
            for name in names:
                result = await connection.execute(sa.text(f'SELECT * FROM "{name}"'))
                tables[name] = [dict(row._mapping) for row in result]
            return tables
    finally:
        await engine.dispose()


def database_rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    return asyncio.run(_rows(settings.database_url))


def test_the_database_holds_only_hashes(api: Api, settings: Settings) -> None:
    tokens = [ADMIN_TOKEN, new_key(api, "admin")["token"], new_key(api, "viewer")["token"]]
    tables = database_rows(settings)
    stored = sorted(row["token_hash"] for row in tables["api_keys"])
    assert stored == sorted(hashlib.sha256(t.encode()).hexdigest() for t in tokens)
    dump = repr(tables)
    for token in tokens:
        # Neither the token nor anything past the displayed prefix is stored anywhere.
        assert token not in dump
        assert token[10:] not in dump


def test_bootstrap_token_is_accepted_only_on_first_start(database_url: str) -> None:
    settings = Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN)
    with make_client(settings) as client:
        api = Api(client)
        assert api.get("/v1/applications").status_code == 200
        successor = new_key(api, "operator", "successor")["token"]
        bootstrap = next(k for k in api.get("/v1/api-keys").json()["data"] if k["name"] == "bootstrap")
        assert (bootstrap["role"], bootstrap["team_id"]) == ("operator", None)
        assert api.post(f"/v1/api-keys/{bootstrap['id']}/revoke").status_code == 200
    # Restarted with the same environment: the revoked bootstrap token stays revoked.
    with make_client(settings) as client:
        assert_problem(Api(client).get("/v1/applications"), 401, "unauthorized")
        assert Api(client, successor).get("/v1/applications").status_code == 200
        assert len(Api(client, successor).get("/v1/api-keys").json()["data"]) == 2
    # A different bootstrap token on a database that has keys is not accepted either.
    other = Settings(database_url=database_url, bootstrap_token="pp_another_bootstrap_token_000")
    with make_client(other) as client:
        assert_problem(Api(client, "pp_another_bootstrap_token_000").get("/v1/applications"), 401, "unauthorized")
        assert len(Api(client, successor).get("/v1/api-keys").json()["data"]) == 2


def test_without_a_bootstrap_token_nothing_is_open(database_url: str) -> None:
    with make_client(Settings(database_url=database_url)) as client:
        assert_problem(client.get("/v1/applications"), 401, "unauthorized")
        assert_problem(Api(client).get("/v1/applications"), 401, "unauthorized")
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pp_not_a_key"}], ids=["no-key", "bad-key"])
def test_health_needs_no_key(api: Api, headers: dict[str, str]) -> None:
    for path in ("/healthz", "/readyz"):
        response = api.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}


def test_openapi_documents_paths_and_the_bearer_scheme(api: Api) -> None:
    response = api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = {
        "/v1/applications": {"get", "post"},
        "/v1/applications/{app_id}": {"get", "patch", "delete"},
        "/v1/applications/{app_id}/config-vars": {"get", "patch"},
        "/v1/applications/{app_id}/processes": {"get", "post"},
        "/v1/applications/{app_id}/processes/{process_id}": {"get", "patch", "delete"},
        "/v1/applications/{app_id}/procfile": {"put"},
        "/v1/resources/process-resource-types": {"get"},
        "/v1/api-keys": {"get", "post"},
        "/v1/api-keys/{key_id}/revoke": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    schemes = document["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    name = next(iter(schemes))
    assert {name: []} in paths["/v1/applications"]["get"]["security"]
    create = paths["/v1/applications/{app_id}/processes"]["post"]
    assert "requestBody" in create
    ui = api.client.get("/schema")
    assert ui.status_code == 200
    assert ui.headers["content-type"].startswith("text/html")


def test_problem_responses_are_problem_json(api: Api) -> None:
    response: httpx.Response = api.client.get("/v1/applications")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert set(response.json()) >= {"type", "title", "status", "detail", "code"}
