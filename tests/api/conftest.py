"""Fixtures for the API tests: the real app over HTTP, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url
from tests.postgres import PostgresServer, postgres_server

ADMIN_TOKEN = "pp_test_admin_token_0123456789"
# The suite sends hundreds of requests with one key, and of refused ones from one address, within
# a minute: far past the production limits, which tests/api/test_rate_limits.py proves. Here the
# limits stay on (every request is counted) but out of reach.
SUITE_RATE_LIMITS: dict[str, Any] = {
    "rate_limit_reads": 100_000,
    "rate_limit_writes": 100_000,
    "rate_limit_creations": 100_000,
    "rate_limit_auth_failures": 100_000,
    "rate_limit_heartbeat_pings": 100_000,
}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return normalize_database_url(f"sqlite:///{tmp_path / 'procplane.db'}")
    server: PostgresServer = request.getfixturevalue("postgres")
    return normalize_database_url(server.create_database())


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN, **SUITE_RATE_LIMITS)


class Api:
    """A thin helper over the test client: authenticated calls with a chosen key."""

    def __init__(self, client: TestClient[Any], token: str = ADMIN_TOKEN) -> None:
        self.client = client
        self.token = token

    def as_key(self, token: str) -> Api:
        return Api(self.client, token)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def create_app(self, name: str = "my-app", **fields: Any) -> dict[str, Any]:
        response = self.post("/v1/applications", json={"name": name, "image": "nginx:1.27", **fields})
        assert response.status_code == 201, response.text
        application: dict[str, Any] = response.json()
        return application

    def resource_type(self, name: str = "s1") -> dict[str, Any]:
        catalog = self.get("/v1/resources/process-resource-types").json()
        found: dict[str, Any] = next(t for t in catalog if t["name"] == name)
        return found

    def create_process(self, app_id: str, **fields: Any) -> dict[str, Any]:
        response = self.post(f"/v1/applications/{app_id}/processes", json=fields)
        assert response.status_code == 200, response.text
        process: dict[str, Any] = response.json()
        return process


def make_client(settings: Settings) -> TestClient[Any]:
    return TestClient(create_app(settings))


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with make_client(settings) as client:
        yield Api(client)


@pytest.fixture
def app_id(api: Api) -> str:
    return str(api.create_app()["id"])


def assert_problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code, naming `field` if given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database for a module-scoped fixture parametrised on "sqlite" and "postgresql"."""
    if request.param == "sqlite":
        return normalize_database_url(f"sqlite:///{tmp_path_factory.mktemp('module') / 'procplane.db'}")
    server: PostgresServer = request.getfixturevalue("postgres")
    return normalize_database_url(server.create_database())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app and database per test module, for the many requests that must be refused
    without writing anything: each test proves it by reading back what it could have touched."""
    settings = Settings(
        database_url=module_database(request, tmp_path_factory), bootstrap_token=ADMIN_TOKEN, **SUITE_RATE_LIMITS
    )
    with make_client(settings) as client:
        yield Api(client)
