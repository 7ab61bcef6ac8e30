"""The API is exact under concurrency, on SQLite and PostgreSQL: 50 requests sent at the same
moment to a real server (uvicorn on a loopback port, one connection per request) get the answers
they would get one after another, and never a 5xx.

The test client of the framework runs requests one at a time through one portal, so it cannot
produce these races; a real server with real parallel clients can."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from controlplane.domain.settings import Settings
from controlplane.store import db
from tests.api.conftest import ADMIN_TOKEN, SUITE_RATE_LIMITS, assert_problem, module_database
from tests.api.live import LiveServer

PARALLEL = 50
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# Loaded once and shared: loading the certificates for each of 50 clients takes seconds on a busy machine.
TLS = ssl.create_default_context()


def plain_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=HEADERS, timeout=60, verify=TLS)


class Server(LiveServer):
    """The live app, with a client of its own and the means to race it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, backlog=PARALLEL * 2)
        self.apps = itertools.count(1)
        self.base_url = self.url
        self.client = plain_client(self.base_url)

    def __enter__(self) -> Server:
        super().__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        super().__exit__()

    def create_app(self) -> str:
        name = f"race-{next(self.apps)}"
        response = self.client.post("/v1/applications", json={"name": name, "image": "nginx:1.27"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def create_process(self, app_id: str, **fields: Any) -> dict[str, Any]:
        response = self.client.post(f"/v1/applications/{app_id}/processes", json=fields)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created

    def at_once(self, send: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
        """`PARALLEL` requests released together: each thread has its own connection, already
        open, and waits at a barrier, so the requests reach the server in the same instant."""
        barrier = threading.Barrier(PARALLEL)
        clients = [plain_client(self.base_url) for _ in range(PARALLEL)]

        def one(index: int) -> httpx.Response:
            client = clients[index]
            client.get("/healthz")  # open the connection before the race
            barrier.wait()
            return send(client, index)

        try:
            with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
                responses = list(pool.map(one, range(PARALLEL)))
        finally:
            for client in clients:
                client.close()
        server_errors = [r.text for r in responses if r.status_code >= 500]
        assert not server_errors, server_errors
        return responses


def statuses(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    """How many responses had each (status, problem code)."""
    return Counter((r.status_code, r.json().get("code") if r.status_code >= 400 else None) for r in responses)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server and database per module: each test races on an application of its own."""
    # The races test exactness: a request waits its turn for the application's lock however slow
    # the machine running the tests is. A lock not had in time is the 503 test's, below.
    settings = Settings(
        database_url=module_database(request, tmp_path_factory),
        bootstrap_token=ADMIN_TOKEN,
        database_busy_timeout_seconds=60,
        **SUITE_RATE_LIMITS,
    )
    with Server(settings) as running:
        yield running


def test_one_etag_lets_exactly_one_patch_through(server: Server) -> None:
    app_id = server.create_app()
    process = server.create_process(app_id, key="worker", type="worker", entrypoint="work")
    path = f"/v1/applications/{app_id}/processes/{process['id']}"
    etag = server.client.get(path).headers["etag"]

    responses = server.at_once(
        lambda client, i: client.patch(path, json={"display_name": f"worker {i}"}, headers={"If-Match": etag})
    )

    assert statuses(responses) == {(200, None): 1, (412, "precondition_failed"): PARALLEL - 1}
    (winner,) = [r for r in responses if r.status_code == 200]
    current = server.client.get(path)
    assert current.headers["etag"] == winner.headers["etag"] == f'"{process["generation"] + 1}"'
    assert current.json()["display_name"] == winner.json()["display_name"]


def test_unconditional_patches_lose_no_update(server: Server) -> None:
    """Every PATCH without If-Match is applied: one generation each, none lost."""
    app_id = server.create_app()
    process = server.create_process(app_id, key="worker", type="worker", entrypoint="work")
    path = f"/v1/applications/{app_id}/processes/{process['id']}"

    responses = server.at_once(lambda client, i: client.patch(path, json={"display_name": f"worker {i}"}))

    assert statuses(responses) == {(200, None): PARALLEL}
    assert sorted(int(r.headers["etag"].strip('"')) for r in responses) == [
        process["generation"] + n for n in range(1, PARALLEL + 1)
    ]
    assert server.client.get(path).json()["generation"] == process["generation"] + PARALLEL


def test_one_etag_lets_exactly_one_delete_through(server: Server) -> None:
    """The winner deletes; the others find the process gone (RFC 9110 §13.2.1: a request that
    would be a 404 without its precondition is answered 404)."""
    app_id = server.create_app()
    process = server.create_process(app_id, key="worker", type="worker", entrypoint="work")
    path = f"/v1/applications/{app_id}/processes/{process['id']}"
    etag = server.client.get(path).headers["etag"]

    responses = server.at_once(lambda client, _: client.delete(path, headers={"If-Match": etag}))

    assert statuses(responses) == {(200, None): 1, (404, "not_found"): PARALLEL - 1}
    assert_problem(server.client.get(path), 404, "not_found")


def test_a_stale_etag_never_deletes_a_changed_process(server: Server) -> None:
    """Half the requests change the process, half delete it with the ETag read before: a delete
    wins only if it comes first, and then every other request finds the process gone; else every
    change is applied and every delete refused."""
    app_id = server.create_app()
    process = server.create_process(app_id, key="worker", type="worker", entrypoint="work")
    path = f"/v1/applications/{app_id}/processes/{process['id']}"
    etag = server.client.get(path).headers["etag"]

    def send(client: httpx.Client, index: int) -> httpx.Response:
        if index % 2:
            return client.delete(path, headers={"If-Match": etag})
        return client.patch(path, json={"display_name": f"worker {index}"})

    counts = statuses(server.at_once(send))

    remaining = server.client.get(path)
    if remaining.status_code == 404:
        assert counts == {(200, None): 1, (404, "not_found"): PARALLEL - 1}
    else:
        assert counts == {(200, None): PARALLEL // 2, (412, "precondition_failed"): PARALLEL // 2}
        assert remaining.json()["generation"] == process["generation"] + PARALLEL // 2


@pytest.mark.parametrize("keys", ["given", "derived"])
def test_the_plan_limit_holds_under_parallel_creates(server: Server, keys: str) -> None:
    """Never more processes than the plan allows, and keys derived in parallel are all distinct."""
    app_id = server.create_app()
    limit = server.settings.max_processes_per_application
    base = f"/v1/applications/{app_id}/processes"

    def send(client: httpx.Client, index: int) -> httpx.Response:
        key = {"key": f"worker-{index}"} if keys == "given" else {}
        return client.post(base, json={"type": "worker", "entrypoint": "work", **key})

    responses = server.at_once(send)

    assert statuses(responses) == {(200, None): limit, (402, "plan_limit_reached"): PARALLEL - limit}
    listed = server.client.get(base, params={"limit": 100}).json()
    assert listed["total"] == limit
    assert len({p["key"] for p in listed["data"]}) == limit


def test_one_web_process_under_parallel_creates(server: Server) -> None:
    """The losers get what a second web process gets one request later."""
    app_id = server.create_app()
    base = f"/v1/applications/{app_id}/processes"

    responses = server.at_once(lambda client, i: client.post(base, json={"key": f"web-{i}", "type": "web"}))

    assert statuses(responses) == {(200, None): 1, (400, "validation_failed"): PARALLEL - 1}
    for refused in (r for r in responses if r.status_code == 400):
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("type", "web_already_exists")]
    listed = server.client.get(base).json()
    assert [p["type"] for p in listed["data"]] == ["web"]


@pytest.mark.parametrize("body", [{"image": "example/app:v2"}, {"is_restart": True}], ids=["deploy", "restart"])
def test_one_deployment_at_a_time_under_parallel_requests(server: Server, body: dict[str, Any]) -> None:
    app_id = server.create_app()
    server.create_process(app_id, key="web", type="web", entrypoint="serve")
    base = f"/v1/applications/{app_id}/deployments"

    responses = server.at_once(lambda client, _: client.post(base, json=body))

    assert statuses(responses) == {(201, None): 1, (409, "conflict"): PARALLEL - 1}
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    assert winner["number"] == 1
    assert {r.json()["running_deployment_id"] for r in responses if r.status_code == 409} == {winner["id"]}
    assert server.client.get(base).json()["total"] == 1


def test_one_cancel_of_a_deployment_wins(server: Server) -> None:
    app_id = server.create_app()
    base = f"/v1/applications/{app_id}/deployments"
    release = server.client.post(base, json={"image": "example/app:v2"}).json()

    responses = server.at_once(lambda client, _: client.post(f"{base}/{release['id']}/cancel"))

    assert statuses(responses) == {(200, None): 1, (409, "conflict"): PARALLEL - 1}
    assert server.client.get(f"{base}/{release['id']}").json()["status"] == "cancelled"


def test_config_var_changes_are_all_kept(server: Server) -> None:
    """Each request sets its own variable and all set one shared new one: every variable is
    there afterwards and none of the requests fails on the shared key."""
    app_id = server.create_app()
    path = f"/v1/applications/{app_id}/config-vars"

    responses = server.at_once(lambda client, i: client.patch(path, json={"vars": {f"VAR_{i}": "x", "SHARED": str(i)}}))

    assert statuses(responses) == {(200, None): PARALLEL}
    keys = server.client.get(path).json()["keys"]
    assert sorted(keys) == sorted(["SHARED", *(f"VAR_{i}" for i in range(PARALLEL))])


def test_application_changes_under_parallel_requests(server: Server) -> None:
    app_id = server.create_app()
    path = f"/v1/applications/{app_id}"

    responses = server.at_once(lambda client, i: client.patch(path, json={"display_name": f"Race {i}"}))

    assert statuses(responses) == {(200, None): PARALLEL}
    assert server.client.get(path).json()["display_name"] in {f"Race {i}" for i in range(PARALLEL)}


def test_one_procfile_creates_its_processes_once(server: Server) -> None:
    app_id = server.create_app()
    path = f"/v1/applications/{app_id}/procfile"
    procfile = "web: serve\nworker: work\n"

    responses = server.at_once(
        lambda client, _: client.put(path, content=procfile, headers={"Content-Type": "text/plain"})
    )

    assert statuses(responses) == {(200, None): PARALLEL}
    results = [r.json() for r in responses]
    assert sum(1 for r in results if r["created"] == ["web", "worker"]) == 1
    assert sum(1 for r in results if r["unchanged"] == ["web", "worker"]) == PARALLEL - 1
    listed = server.client.get(f"/v1/applications/{app_id}/processes").json()
    assert sorted(p["key"] for p in listed["data"]) == ["web", "worker"]


def test_alert_rules_and_heartbeats_are_configured_once(server: Server) -> None:
    app_id = server.create_app()
    process = server.create_process(app_id, key="worker", type="worker", entrypoint="work")
    base = f"/v1/applications/{app_id}/processes/{process['id']}"

    def send(client: httpx.Client, index: int) -> httpx.Response:
        if index % 2:
            return client.patch(f"{base}/alert-rules", json={"cpu_threshold_pct": 50 + index / 10})
        return client.put(f"{base}/heartbeat", json={"interval_seconds": 60 + index})

    responses = server.at_once(send)

    assert statuses(responses) == {(200, None): PARALLEL}
    tokens = [r.json()["token"] for i, r in enumerate(responses) if i % 2 == 0 and r.json().get("token")]
    assert len(tokens) == 1, "the heartbeat token is issued once, by the request that created it"


@contextmanager
def application_locked(settings: Settings, app_id: str) -> Iterator[None]:
    """Another writer holds the lock every write under the application needs: SQLite's write
    lock, or the application's row on PostgreSQL, from a connection of its own."""
    if db.is_sqlite(settings.database_url):
        database = make_url(settings.database_url).database
        assert database is not None
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    locked, done = threading.Event(), threading.Event()

    async def hold() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                lock = "SELECT id FROM applications WHERE id = :id FOR UPDATE"
                await connection.execute(sa.text(lock), {"id": app_id})
                locked.set()
                await asyncio.to_thread(done.wait)
                await connection.rollback()
        finally:
            await engine.dispose()

    holding = threading.Thread(target=asyncio.run, args=(hold(),))
    holding.start()
    try:
        assert locked.wait(timeout=30), "the lock was not taken"
        yield
    finally:
        done.set()
        holding.join(timeout=30)


def test_a_lock_not_had_in_time_is_a_503_with_retry_after(settings: Settings) -> None:
    """When another writer holds the lock longer than the busy timeout, the request is refused
    as temporarily unavailable, with a time to retry, and writes nothing."""
    settings = msgspec.structs.replace(settings, database_busy_timeout_seconds=0.3)
    with Server(settings) as running:
        app_id = running.create_app()
        path = f"/v1/applications/{app_id}/processes"
        with application_locked(settings, app_id):
            response = running.client.post(path, json={"type": "worker"})
        body = assert_problem(response, 503, "unavailable")
        assert response.headers["retry-after"] == str(body["retry_after"]) == "1"
        assert running.client.get(path).json()["total"] == 0
        assert running.client.post(path, json={"type": "worker"}).status_code == 200
