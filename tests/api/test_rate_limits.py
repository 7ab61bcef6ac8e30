"""Rate limits per API key and team (reads, writes, creations), on failed authentications and on heartbeat
pings, shared by every API replica on PostgreSQL; and overload answered 503, never 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.store import db
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem
from tests.postgres import PostgresServer

WINDOW = 60
# A moment 10 s into a window, so that the window's end is 50 s away.
START = 1_000 * WINDOW + 10
UNTIL_WINDOW_ENDS = 50


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh database on the suite's PostgreSQL, for what only holds there."""
    return normalize_database_url(postgres.create_database())


class HandClock:
    """A clock the test moves: windows pass without sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited(database_url: str, **limits: Any) -> Settings:
    return Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN, **limits)


@contextmanager
def client_of(settings: Settings, clock: HandClock | None = None) -> Iterator[Api]:
    with TestClient(create_app(settings, clock=clock or HandClock())) as client:
        yield Api(client)


def assert_rate_limited(
    response: httpx.Response, scope: str, limit: int, retry_after: int = UNTIL_WINDOW_ENDS
) -> dict[str, Any]:
    """A 429 for `scope` over `limit`, to be retried after `retry_after` seconds (by default, as
    the hand clock reads at the start: the rest of its window)."""
    body = assert_problem(response, 429, "rate_limited")
    assert (body["scope"], body["limit"]) == (scope, limit)
    assert response.headers["Retry-After"] == str(body["retry_after"]) == str(retry_after)
    assert response.headers["RateLimit-Remaining"] == "0"
    return body


def test_a_key_over_its_read_limit_gets_429_with_retry_after(database_url: str) -> None:
    with client_of(limited(database_url, rate_limit_reads=3)) as api:
        remaining = []
        for _ in range(3):
            response = api.get("/v1/applications")
            assert response.status_code == 200, response.text
            assert response.headers["RateLimit-Limit"] == "3"
            remaining.append(response.headers["RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        refused = api.get("/v1/applications")
        assert_rate_limited(refused, "reads", 3)
        # The window started 10 s before the clock's reading: 50 s to go.
        assert refused.headers["Retry-After"] == "50"


def test_another_key_is_unaffected_by_a_spent_key(database_url: str) -> None:
    with client_of(limited(database_url, rate_limit_reads=2)) as api:
        other = api.post("/v1/api-keys", json={"name": "ci", "role": "viewer"}).json()["token"]
        api.get("/v1/applications")
        api.get("/v1/applications")
        assert_rate_limited(api.get("/v1/applications"), "reads", 2)
        response = api.as_key(other).get("/v1/applications")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Remaining"] == "1"


def test_the_keys_of_one_team_share_its_budget(database_url: str) -> None:
    with client_of(limited(database_url, rate_limit_reads=2, rate_limit_team_factor=2)) as api:

        def team_keys(name: str, count: int) -> list[str]:
            team = api.post("/v1/teams", json={"name": name}).json()["id"]
            keys = [{"name": f"{name}-{n}", "role": "viewer", "team_id": team} for n in range(count)]
            return [api.post("/v1/api-keys", json=key).json()["token"] for key in keys]

        blue, red = team_keys("blue", 3), team_keys("red", 1)
        # Two keys spend their own two reads each, and so the team's four.
        for token in blue[:2]:
            for _ in range(2):
                assert api.as_key(token).get("/v1/applications").status_code == 200
        # A third key of the team has reads of its own left, but its team has none.
        body = assert_rate_limited(api.as_key(blue[2]).get("/v1/applications"), "reads", 4)
        assert "for the team" in body["detail"]
        # Another team, and the operator key (which belongs to no team), are unaffected.
        assert api.as_key(red[0]).get("/v1/applications").status_code == 200
        assert api.get("/v1/applications").status_code == 200


def test_writes_and_creations_have_their_own_lower_limits(database_url: str) -> None:
    settings = limited(database_url, rate_limit_reads=100, rate_limit_writes=2, rate_limit_creations=1)
    with client_of(settings) as api:
        app_id = api.create_app("first")["id"]
        assert_rate_limited(api.post("/v1/applications", json={"name": "second", "image": "nginx"}), "creations", 1)
        for name in ("one", "two"):
            response = api.patch(f"/v1/applications/{app_id}", json={"display_name": name})
            assert response.status_code == 200, response.text
        assert_rate_limited(api.patch(f"/v1/applications/{app_id}", json={"display_name": "three"}), "writes", 2)
        # Reads keep their own budget; nothing refused was written.
        assert api.get(f"/v1/applications/{app_id}").json()["display_name"] == "two"
        assert api.get("/v1/applications").json()["total"] == 1


def test_bad_tokens_are_limited_per_address_before_the_key_is_checked(database_url: str) -> None:
    clock = HandClock()
    with client_of(limited(database_url, rate_limit_auth_failures=3), clock) as api:
        for attempt in range(3):
            assert_problem(api.as_key(f"pp_guess_{attempt}").get("/v1/applications"), 401, "unauthorized")
        assert_rate_limited(api.as_key("pp_guess_3").get("/v1/applications"), "auth_failures", 3)
        # The address is blocked for the rest of the window, whatever it sends: even a good key.
        assert_rate_limited(api.get("/v1/applications"), "auth_failures", 3)
        assert_rate_limited(api.request("GET", "/v1/applications"), "auth_failures", 3)
        clock.now += WINDOW  # the block ends with its window
        assert api.get("/v1/applications").status_code == 200
        assert_problem(api.as_key("pp_guess_4").get("/v1/applications"), 401, "unauthorized")


def transport_of(app: Litestar, client: tuple[str, int] = ("127.0.0.1", 40000)) -> httpx.ASGITransport:
    """HTTP into the app on the test's own event loop, from a chosen client address."""
    return httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]  # Litestar's scope types are narrower


async def _get(app: Litestar, token: str, address: str) -> httpx.Response:
    transport = transport_of(app, (address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://procplane.test") as client:
        return await client.get("/v1/applications", headers={"Authorization": f"Bearer {token}"})


def run_served(settings: Settings, test: Callable[[Litestar], Coroutine[Any, Any, None]]) -> None:
    """Run `test` against the app on one event loop (its own), the app's lifespan around it."""

    async def main() -> None:
        app = create_app(settings, clock=HandClock())
        async with app.lifespan():
            await test(app)

    asyncio.run(main())


def test_a_token_that_keeps_failing_is_limited_from_any_address(database_url: str) -> None:
    async def test(app: Litestar) -> None:
        for index in range(2):
            response = await _get(app, "pp_stolen_and_revoked", f"10.0.0.{index}")
            assert_problem(response, 401, "unauthorized")
        assert_rate_limited(await _get(app, "pp_stolen_and_revoked", "10.0.0.9"), "auth_failures", 2)
        # Another address with a good key is not concerned.
        assert (await _get(app, ADMIN_TOKEN, "10.0.0.10")).status_code == 200

    run_served(limited(database_url, rate_limit_auth_failures=2), test)


def test_the_limit_holds_across_two_api_instances_on_one_postgresql(postgres_url: str) -> None:
    settings = limited(postgres_url, rate_limit_reads=4)
    clock = HandClock()
    with client_of(settings, clock) as first, client_of(settings, clock) as second:
        for api in (first, second, first, second):
            assert api.get("/v1/applications").status_code == 200
        # Each instance saw two reads; together the key has spent its four.
        assert_rate_limited(first.get("/v1/applications"), "reads", 4)
        assert_rate_limited(second.get("/v1/applications"), "reads", 4)


def test_failed_authentications_add_up_across_api_instances(postgres_url: str) -> None:
    settings = limited(postgres_url, rate_limit_auth_failures=2)
    with client_of(settings) as first, client_of(settings) as second:
        assert_problem(first.as_key("pp_guess_a").get("/v1/applications"), 401, "unauthorized")
        assert_problem(second.as_key("pp_guess_b").get("/v1/applications"), 401, "unauthorized")
        assert_rate_limited(first.as_key("pp_guess_c").get("/v1/applications"), "auth_failures", 2)


def test_the_budget_comes_back_when_the_window_ends(database_url: str) -> None:
    clock = HandClock()
    with client_of(limited(database_url, rate_limit_reads=2), clock) as api:
        api.get("/v1/applications")
        api.get("/v1/applications")
        refused = api.get("/v1/applications")
        assert_rate_limited(refused, "reads", 2)
        clock.now += int(refused.headers["Retry-After"]) - 1
        assert_rate_limited(api.get("/v1/applications"), "reads", 2, retry_after=1)  # one second early
        clock.now += 1
        response = api.get("/v1/applications")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Remaining"] == "1"


def test_old_windows_are_pruned_from_postgresql(postgres_url: str) -> None:
    clock = HandClock()
    with client_of(limited(postgres_url), clock) as api:
        for _ in range(3):  # three windows, a read in each
            assert api.get("/v1/applications").status_code == 200
            clock.now += WINDOW
        windows = asyncio.run(_stored_windows(postgres_url))
    # The current window and the one before it are kept; the first is gone.
    assert windows == [START // WINDOW * WINDOW + WINDOW, START // WINDOW * WINDOW + 2 * WINDOW]


async def _stored_windows(url: str) -> list[int]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT DISTINCT window_start FROM rate_limit_counters ORDER BY 1"))
            return [int(row[0]) for row in rows]
    finally:
        await engine.dispose()


def test_heartbeat_pings_are_limited_per_heartbeat_token(database_url: str) -> None:
    with client_of(limited(database_url, rate_limit_heartbeat_pings=2)) as api:
        app_id = api.create_app()["id"]
        tokens = []
        for key in ("first", "second"):
            process = api.create_process(app_id, key=key, type="worker")
            beat = api.put(
                f"/v1/applications/{app_id}/processes/{process['id']}/heartbeat", json={"interval_seconds": 60}
            )
            assert beat.status_code == 200, beat.text
            tokens.append((process["id"], beat.json()["token"]))
        (first_id, first_token), (second_id, second_token) = tokens
        first_ping = f"/v1/applications/{app_id}/processes/{first_id}/actions/ping"
        for _ in range(2):
            assert api.as_key(first_token).post(first_ping).status_code == 200
        assert_rate_limited(api.as_key(first_token).post(first_ping), "heartbeat_pings", 2)
        second_ping = f"/v1/applications/{app_id}/processes/{second_id}/actions/ping"
        assert api.as_key(second_token).post(second_ping).status_code == 200


def test_probes_are_exempt_and_limits_can_be_turned_off(database_url: str) -> None:
    with client_of(limited(database_url, rate_limit_reads=1, rate_limit_auth_failures=1)) as api:
        for _ in range(5):
            assert api.client.get("/healthz").status_code == 200
            ready = api.client.get("/readyz")
            assert ready.status_code == 200
            assert "RateLimit-Limit" not in ready.headers
    with client_of(limited(database_url, rate_limit_reads=1, rate_limits_enabled=False)) as api:
        for _ in range(5):
            response = api.get("/v1/applications")
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers


class HeldUpload:
    """A request body that arrives only when the test says so: a slow client holds its request
    in flight, exactly as long as the test wants."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started.set()
        await self.release.wait()
        yield self.body


def test_beyond_the_requests_in_flight_the_api_answers_503_with_retry_after(database_url: str) -> None:
    async def test(app: Litestar) -> None:
        transport = transport_of(app)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://procplane.test", headers=headers) as client:
            upload = HeldUpload(b'{"name": "slow", "image": "nginx:1.27"}')
            slow = asyncio.create_task(
                client.post("/v1/applications", content=upload, headers={"Content-Type": "application/json"})
            )
            await upload.started.wait()
            refused = await client.get("/v1/applications")
            body = assert_problem(refused, 503, "unavailable")
            assert refused.headers["Retry-After"] == "1"
            assert body["retry_after"] == 1
            # Probes are not shed: a busy process is not a dead one.
            assert (await client.get("/healthz")).status_code == 200
            upload.release.set()
            assert (await slow).status_code == 201
            # Once the slow request is done, the next one is served.
            assert (await client.get("/v1/applications")).json()["total"] == 1

    run_served(limited(database_url, max_requests_in_flight=1), test)


def test_a_database_pool_timeout_is_a_503_not_a_500(postgres_url: str) -> None:
    settings = limited(postgres_url, database_pool_size=1, database_pool_overflow=0, database_pool_timeout_seconds=0.2)

    async def test(app: Litestar) -> None:
        # The test holds the pool's only connection, as a burst of slow requests would.
        async with app.state.session_factory() as held:
            await held.execute(sa.text("SELECT 1"))
            response = await _get(app, ADMIN_TOKEN, "10.0.0.1")
            body = assert_problem(response, 503, "unavailable")
            assert response.headers["Retry-After"] == "1"
            assert body["retry_after"] == 1
        assert (await _get(app, ADMIN_TOKEN, "10.0.0.1")).status_code == 200

    run_served(settings, test)
