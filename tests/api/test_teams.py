"""Teams over HTTP on both databases: a key sees its own team's resources only (another team's
answer 404, exactly like ones that do not exist), operator keys see every team, who may create
teams, keys and applications where, the last admin and operator keys, the migration that put
everything in the default team, and the per-team application limit under parallel creates."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from controlplane.api.catalog.service import resource_type_id
from controlplane.domain.settings import Settings
from controlplane.store import migrate
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem, make_client
from tests.api.test_observing_api import nodes, observe, pod

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def create_team(api: Api, name: str) -> dict[str, Any]:
    response = api.post("/v1/teams", json={"name": name})
    assert response.status_code == 201, response.text
    team: dict[str, Any] = response.json()
    return team


def create_key(api: Api, role: str, team_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or f"{role} key", "role": role}
    if team_id is not None:
        body["team_id"] = team_id
    response = api.post("/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


@dataclass
class Team:
    id: str
    name: str
    keys: dict[str, Api]  # by role
    key_ids: dict[str, str]
    app: str
    web: str
    cron: str
    release: str


def build_team(api: Api, settings: Settings, name: str) -> Team:
    """A team with a key of each role and an application that has everything a URL can name:
    processes, a cron run, a deployment, a heartbeat, alert rules, instances and samples."""
    team = create_team(api, name)
    created = {role: create_key(api, role, team["id"], f"{name} {role}") for role in ("admin", "deployer", "viewer")}
    keys = {role: api.as_key(key["token"]) for role, key in created.items()}
    admin = keys["admin"]
    app = admin.create_app(f"{name}-app")
    assert app["team_id"] == team["id"]
    web = admin.create_process(app["id"], key="web", type="web")
    cron = admin.create_process(app["id"], key="report", type="cron", schedule="@hourly", time_zone="UTC")
    base = f"/v1/applications/{app['id']}"
    assert admin.post(f"{base}/processes/{cron['id']}/trigger").status_code == 200
    assert admin.patch(f"{base}/config-vars", json={"vars": {"SECRET": name}}).status_code == 200
    assert admin.put(f"{base}/processes/{web['id']}/heartbeat", json={"interval_seconds": 60}).status_code == 200
    assert admin.patch(f"{base}/processes/{web['id']}/alert-rules", json={"alert_on_restart": True}).status_code == 200
    release = admin.post(f"{base}/deployments", json={"image": "nginx:1.28"})
    assert release.status_code == 201, release.text
    observe(settings, web["id"], [pod(f"{name}-web-1", "kwok-node-0")])
    return Team(
        id=team["id"],
        name=name,
        keys=keys,
        key_ids={role: key["id"] for role, key in created.items()},
        app=app["id"],
        web=web["id"],
        cron=cron["id"],
        release=release.json()["id"],
    )


@pytest.fixture
def teams(api: Api, settings: Settings) -> tuple[Team, Team]:
    nodes(settings)
    return build_team(api, settings, "red"), build_team(api, settings, "blue")


def reads(t: Team) -> list[str]:
    app = f"/v1/applications/{t.app}"
    web = f"{app}/processes/{t.web}"
    return [
        app,
        f"{app}/config-vars",
        f"{app}/processes",
        web,
        f"{app}/processes/{t.cron}/runs",
        f"{app}/deployments",
        f"{app}/deployments/{t.release}",
        f"{web}/instances",
        f"{web}/instances/{t.name}-web-1",
        f"{web}/samples",
        f"{web}/metrics/cpu-usage",
        f"{web}/alert-rules",
        f"{web}/webhook-deliveries",
        f"{web}/heartbeat",
        f"/v1/teams/{t.id}",
    ]


def writes(t: Team) -> list[tuple[str, str, dict[str, Any]]]:
    app = f"/v1/applications/{t.app}"
    web = f"{app}/processes/{t.web}"
    return [
        ("PATCH", app, {"json": {"display_name": "taken over"}}),
        ("PATCH", f"{app}/config-vars", {"json": {"vars": {"SECRET": "stolen"}}}),
        ("POST", f"{app}/processes", {"json": {"key": "miner", "type": "worker"}}),
        ("PATCH", web, {"json": {"port": 9000}}),
        ("POST", f"{app}/processes/{t.cron}/trigger", {}),
        ("PUT", f"{app}/procfile", {"content": b"miner: mine\n", "headers": {"Content-Type": "text/plain"}}),
        ("POST", f"{app}/deployments", {"json": {"image": "evil:1"}}),
        ("POST", f"{app}/deployments/rollback", {"json": {"release_id": t.release}}),
        ("POST", f"{app}/deployments/{t.release}/cancel", {}),
        ("PATCH", f"{web}/alert-rules", {"json": {"webhook_url": "https://evil.example.com/hook"}}),
        ("PUT", f"{web}/heartbeat", {"json": {"interval_seconds": 30, "rotate_token": True}}),
        ("POST", f"{web}/actions/ping", {}),
        ("DELETE", f"{web}/heartbeat", {}),
        ("DELETE", web, {}),
        ("DELETE", app, {}),
        ("POST", f"/v1/api-keys/{t.key_ids['viewer']}/revoke", {}),
    ]


def snapshot(operator: Api, t: Team) -> list[Any]:
    """Everything of the team a request could change, read by the operator."""
    # Metric series are left out: their default window moves with the clock.
    return [operator.get(path).json() for path in reads(t) if "/metrics/" not in path] + [
        [k for k in operator.get("/v1/api-keys", params={"limit": 100}).json()["data"] if k["team_id"] == t.id]
    ]


def test_another_teams_resources_answer_not_found(api: Api, teams: tuple[Team, Team]) -> None:
    red, blue = teams
    before = snapshot(api, red)
    for role, key in blue.keys.items():
        for path in reads(red):
            body = assert_problem(key.get(path), 404, "not_found")
            assert "red" not in body["detail"]  # the refusal names only the id that was asked for
        for method, path, kwargs in writes(red):
            response = key.request(method, path, **kwargs)
            # Refused before anything is looked up: every write of a viewer, the key management of
            # a deployer; neither says whether the resource exists.
            refused_by_role = role == "viewer" or (role == "deployer" and path.startswith("/v1/api-keys"))
            if refused_by_role and response.status_code == 403:
                continue
            assert_problem(response, 404, "not_found")
    assert snapshot(api, red) == before
    # The same requests within the team succeed: the 404s above are the team boundary, not typos.
    for path in reads(red):
        assert red.keys["viewer"].get(path).status_code == 200, path


def test_lists_search_and_nodes_hold_only_the_callers_team(api: Api, teams: tuple[Team, Team]) -> None:
    red, blue = teams
    for key in blue.keys.values():
        apps = key.get("/v1/applications").json()
        assert ([a["id"] for a in apps["data"]], apps["total"]) == ([blue.app], 1)
        found = key.get("/v1/processes").json()["data"]
        assert {p["app_id"] for p in found} == {blue.app}
        assert key.get("/v1/processes", params={"search": "red"}).json()["data"] == []
        assert key.get("/v1/processes", params={"tags": "application:red-app"}).json()["data"] == []
        on_nodes = key.get("/v1/nodes/_all/instances").json()["results"]
        assert [i["name"] for n in on_nodes for i in n["instances"]] == ["blue-web-1"]
        assert [i["name"] for n in key.get("/v1/nodes/_any/instances").json()["results"] for i in n["instances"]] == [
            "blue-web-1"
        ]
    listed = blue.keys["admin"].get("/v1/api-keys").json()
    assert {k["id"] for k in listed["data"]} == set(blue.key_ids.values())
    assert listed["total"] == 3  # neither red's keys nor the operator's
    assert_problem(blue.keys["admin"].post(f"/v1/api-keys/{red.key_ids['admin']}/revoke"), 404, "not_found")


def test_an_operator_sees_every_team(api: Api, teams: tuple[Team, Team]) -> None:
    red, blue = teams
    for t in teams:
        for path in reads(t):
            assert api.get(path).status_code == 200, path
    apps = api.get("/v1/applications").json()
    assert {a["id"]: a["team_id"] for a in apps["data"]} == {red.app: red.id, blue.app: blue.id}
    assert {p["app_id"] for p in api.get("/v1/processes").json()["data"]} == {red.app, blue.app}
    on_nodes = api.get("/v1/nodes/_all/instances").json()["results"]
    assert sorted(i["name"] for n in on_nodes for i in n["instances"]) == ["blue-web-1", "red-web-1"]
    keys = api.get("/v1/api-keys", params={"limit": 100}).json()
    assert keys["total"] == 7  # the bootstrap operator key and three per team
    # An operator changes another team's application like its own.
    assert api.patch(f"/v1/applications/{red.app}", json={"display_name": "Red"}).json()["display_name"] == "Red"


def test_teams_are_created_and_listed_by_operators_only(api: Api) -> None:
    default_team = api.get("/v1/teams").json()
    assert (default_team["total"], [t["name"] for t in default_team["data"]]) == (1, ["default"])
    team = create_team(api, "platform")
    assert set(team) == {"id", "name", "created_at"}
    assert api.get(f"/v1/teams/{team['id']}").json() == team
    listing = api.get("/v1/teams", params={"limit": 1, "offset": 1}).json()
    assert listing == {"data": [team], "total": 2, "offset": 1, "limit": 1}
    duplicate = assert_problem(api.post("/v1/teams", json={"name": "platform"}), 409, "duplicate_team")
    assert duplicate["field"] == "name"
    for role in ("admin", "deployer", "viewer"):
        key = api.as_key(create_key(api, role, team["id"])["token"])
        assert_problem(key.post("/v1/teams", json={"name": f"mine-{role}"}), 403, "forbidden")
        assert_problem(key.get("/v1/teams"), 403, "forbidden")
        assert key.get(f"/v1/teams/{team['id']}").json() == team  # its own team
        assert_problem(key.get(f"/v1/teams/{default_team['data'][0]['id']}"), 404, "not_found")
    assert_problem(api.get(f"/v1/teams/{UNKNOWN_ID}"), 404, "not_found")
    assert api.get("/v1/teams").json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": ""}, "name", "too_short"),
        ({"name": "x" * 64}, "name", "too_long"),
        ({"name": "Red"}, "name", "invalid_format"),
        ({"name": "-red"}, "name", "invalid_format"),
        ({}, "name", "required"),
        ({"name": "red", "plan": "gold"}, "plan", "unknown_field"),
    ],
)
def test_team_creation_refuses(module_api: Api, body: dict[str, Any], field: str, code: str) -> None:
    before = module_api.get("/v1/teams").json()
    problem = assert_problem(module_api.post("/v1/teams", json=body), 400, "validation_failed", field)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert module_api.get("/v1/teams").json() == before


def test_team_name_length_is_inclusive(api: Api) -> None:
    assert create_team(api, "x" * 63)["name"] == "x" * 63


def test_where_keys_are_created(api: Api) -> None:
    red, blue = create_team(api, "red"), create_team(api, "blue")
    default_id = next(t["id"] for t in api.get("/v1/teams").json()["data"] if t["name"] == "default")
    assert create_key(api, "viewer")["team_id"] == default_id  # an operator naming no team
    admin = api.as_key(create_key(api, "admin", red["id"])["token"])
    assert create_key(admin, "deployer")["team_id"] == red["id"]
    assert create_key(admin, "viewer", red["id"])["team_id"] == red["id"]
    before = api.get("/v1/api-keys", params={"limit": 100}).json()
    assert_problem(
        admin.post("/v1/api-keys", json={"name": "x", "role": "admin", "team_id": blue["id"]}), 404, "not_found"
    )
    assert_problem(admin.post("/v1/api-keys", json={"name": "x", "role": "operator"}), 403, "forbidden")
    unknown = {"name": "x", "role": "admin", "team_id": UNKNOWN_ID}
    assert_problem(api.post("/v1/api-keys", json=unknown), 404, "not_found")
    with_team = {"name": "x", "role": "operator", "team_id": red["id"]}
    problem = assert_problem(api.post("/v1/api-keys", json=with_team), 400, "validation_failed", "team_id")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("team_id", "not_allowed_for_role")]
    assert api.get("/v1/api-keys", params={"limit": 100}).json() == before
    operator = create_key(api, "operator")
    assert operator["team_id"] is None
    assert api.as_key(operator["token"]).get("/v1/teams").json()["total"] == 3


def test_where_applications_are_created(api: Api) -> None:
    red, blue = create_team(api, "red"), create_team(api, "blue")
    default_id = next(t["id"] for t in api.get("/v1/teams").json()["data"] if t["name"] == "default")
    assert api.create_app("ops-app")["team_id"] == default_id
    assert api.create_app("blue-app", team_id=blue["id"])["team_id"] == blue["id"]
    deployer = api.as_key(create_key(api, "deployer", red["id"])["token"])
    assert deployer.create_app("red-app")["team_id"] == red["id"]
    assert deployer.create_app("red-two", team_id=red["id"])["team_id"] == red["id"]
    before = api.get("/v1/applications").json()
    refused = deployer.post("/v1/applications", json={"name": "sneaky", "team_id": blue["id"]})
    assert_problem(refused, 404, "not_found")
    assert_problem(api.post("/v1/applications", json={"name": "lost", "team_id": UNKNOWN_ID}), 404, "not_found")
    # Names are global; a name another team holds is refused as taken, and says no more than that.
    taken = assert_problem(deployer.post("/v1/applications", json={"name": "blue-app"}), 409, "duplicate_application")
    assert blue["id"] not in str(taken)
    assert "blue-app" in taken["detail"]
    moved = deployer.patch(f"/v1/applications/{before['data'][2]['id']}", json={"team_id": blue["id"]})
    assert_problem(moved, 400, "validation_failed", "team_id")
    assert api.get("/v1/applications").json() == before


def test_the_last_admin_and_operator_keys_stay(api: Api) -> None:
    team = create_team(api, "red")
    first = create_key(api, "admin", team["id"], "first admin")
    admin = api.as_key(first["token"])
    deployer = create_key(admin, "deployer")
    problem = assert_problem(api.post(f"/v1/api-keys/{first['id']}/revoke"), 409, "last_admin_key")
    assert problem["detail"]
    assert_problem(admin.post(f"/v1/api-keys/{first['id']}/revoke"), 409, "last_admin_key")
    assert admin.get("/v1/api-keys").status_code == 200  # still works
    # Revoking keys of other roles is not limited; a second admin lets the first one go.
    assert admin.post(f"/v1/api-keys/{deployer['id']}/revoke").status_code == 200
    second = create_key(admin, "admin", name="second admin")
    assert admin.post(f"/v1/api-keys/{first['id']}/revoke").status_code == 200
    # Revoked admins do not count: the second is now the last.
    assert_problem(api.post(f"/v1/api-keys/{second['id']}/revoke"), 409, "last_admin_key")
    bootstrap = next(k for k in api.get("/v1/api-keys").json()["data"] if k["name"] == "bootstrap")
    assert_problem(api.post(f"/v1/api-keys/{bootstrap['id']}/revoke"), 409, "last_operator_key")
    assert api.get("/v1/teams").status_code == 200
    successor = api.as_key(create_key(api, "operator", name="successor")["token"])
    assert successor.post(f"/v1/api-keys/{bootstrap['id']}/revoke").status_code == 200
    assert_problem(api.get("/v1/teams"), 401, "unauthorized")
    assert successor.get("/v1/teams").status_code == 200


# ---- the migration that introduced teams ----

MIGRATED_TOKEN = "pp_key_from_before_teams_0123456789"


WHEN = datetime(2026, 11, 30, 12, tzinfo=UTC)


async def _execute(database_url: str, statements: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            results = []
            for statement, values in statements:
                query = sa.text(statement)
                if ":t" in statement:  # a time, converted as each database stores it
                    query = query.bindparams(sa.bindparam("t", WHEN, type_=sa.DateTime(timezone=True)))
                result = await connection.execute(query, values)
                results.append([tuple(row) for row in result] if result.returns_rows else [])
            return results
    finally:
        await engine.dispose()


def execute(database_url: str, *statements: tuple[str, dict[str, Any]]) -> list[list[Any]]:
    return asyncio.run(_execute(database_url, list(statements)))


def test_the_migration_puts_everything_in_the_default_team(database_url: str) -> None:
    config = migrate.alembic_config(database_url)
    command.upgrade(config, "0004")
    when: dict[str, Any] = {}
    s1 = {"rt": resource_type_id("s1")}
    execute(
        database_url,
        ("INSERT INTO resource_types (id, name, category, cpu_limit, memory_limit, active) "
         "VALUES (:rt, 's1', 'standard', 500, 512, true)", s1),
        ("INSERT INTO applications (id, name, display_name, namespace, config_generation, created_at, updated_at) "
         "VALUES ('app-1', 'legacy', 'Legacy', 'legacy-abcdef', 1, :t, :t)", when),
        ("INSERT INTO config_vars (app_id, key, value) VALUES ('app-1', 'A', '1')", {}),
        ("INSERT INTO processes (id, app_id, key, type, display_name, port, is_ingress_enabled, scaling_strategy, "
         "resource_type_id, generation, created_at, updated_at) VALUES ('proc-1', 'app-1', 'worker', 'worker', "
         "'worker', 8080, false, '{\"type\": \"manual\", \"config\": {\"instanceCount\": 1}}', :rt, 1, :t, :t)",
         s1),
        ("INSERT INTO api_keys (id, name, role, token_prefix, token_hash, created_at) "
         "VALUES ('key-1', 'ci', 'deployer', 'pp_key_fro', :hash, :t)",
         {**when, "hash": hashlib.sha256(MIGRATED_TOKEN.encode()).hexdigest()}),
    )  # fmt: skip
    command.upgrade(config, "head")
    (teams, apps, keys, processes) = execute(
        database_url,
        ("SELECT id, name FROM teams", {}),
        ("SELECT id, team_id FROM applications", {}),
        ("SELECT id, team_id, role FROM api_keys", {}),
        ("SELECT id, app_id FROM processes", {}),
    )
    assert [name for _, name in teams] == ["default"]
    default_id = teams[0][0]
    assert apps == [("app-1", default_id)]
    assert keys == [("key-1", default_id, "deployer")]
    assert processes == [("proc-1", "app-1")]  # changing the applications table dropped nothing
    with make_client(Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN)) as client:
        key = Api(client, MIGRATED_TOKEN)
        listed = key.get("/v1/applications").json()["data"]
        assert [(a["id"], a["team_id"]) for a in listed] == [("app-1", default_id)]
        assert [p["id"] for p in key.get("/v1/applications/app-1/processes").json()["data"]] == ["proc-1"]
        # Keys existed, so the bootstrap token is not accepted: an upgraded install makes its
        # operator key with `procplane api-keys create --role operator`.
        assert_problem(Api(client).get("/v1/teams"), 401, "unauthorized")
        assert_problem(key.get("/v1/teams"), 403, "forbidden")
    command.downgrade(config, "0004")
    assert execute(database_url, ("SELECT id FROM processes", {}))[0] == [("proc-1",)]


# ---- the application limit per team ----

TEAM_LIMIT = 5
PARALLEL = 50


@pytest.fixture
def limited(database_url: str) -> Iterator[Api]:
    settings = Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN, max_applications_per_team=TEAM_LIMIT)
    with make_client(settings) as client:
        yield Api(client)


def test_parallel_creates_never_exceed_the_team_limit(limited: Api) -> None:
    api = limited
    red, blue = create_team(api, "red"), create_team(api, "blue")
    deployer = api.as_key(create_key(api, "deployer", red["id"])["token"])
    assert deployer.get("/v1/applications").status_code == 200  # its first use is recorded before the burst

    def create(index: int) -> tuple[int, str]:
        response = deployer.post("/v1/applications", json={"name": f"app-{index}"})
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        outcomes = list(pool.map(create, range(PARALLEL)))
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] * TEAM_LIMIT + [402] * (PARALLEL - TEAM_LIMIT), outcomes
    assert {code for status, code in outcomes if status == 402} == {"plan_limit_reached"}
    assert deployer.get("/v1/applications").json()["total"] == TEAM_LIMIT
    refused = assert_problem(deployer.post("/v1/applications", json={"name": "one-more"}), 402, "plan_limit_reached")
    assert (refused["scope"], refused["limit"]) == ("per_team", TEAM_LIMIT)
    # The limit is the team's: another team still has room, and deleting makes room again.
    assert api.create_app("blue-app", team_id=blue["id"])["team_id"] == blue["id"]
    first = deployer.get("/v1/applications").json()["data"][0]
    assert deployer.delete(f"/v1/applications/{first['id']}").status_code == 200
    assert deployer.create_app("room-again")["team_id"] == red["id"]
