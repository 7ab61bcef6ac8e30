"""What an operator sees of the API: `/metrics` (requests by route template and status, latency
histograms, rate-limit refusals), request ids, and JSON log lines that name the request and the
API key but never its token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url
from controlplane.domain.states import LogFormat, LogLevel
from procplane import logs
from tests.api.conftest import ADMIN_TOKEN, SUITE_RATE_LIMITS, Api
from tests.api.live import LiveServer


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=normalize_database_url(f"sqlite:///{tmp_path / 'procplane.db'}"),
        bootstrap_token=ADMIN_TOKEN,
        **{**SUITE_RATE_LIMITS, **overrides},
    )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        yield Api(client)


def samples(client: TestClient[Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample `/metrics` shows, by name and labels. The metrics are the process's, shared by
    every test, so the tests compare before and after."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def test_requests_are_counted_by_route_template_and_status_with_latency_histograms(api: Api) -> None:
    app_id = api.create_app()["id"]
    route = "/v1/applications/{app_id}"
    ok, missing = labels(method="GET", route=route, status="200"), labels(method="GET", route=route, status="404")
    before = samples(api.client)
    for _ in range(3):
        assert api.get(f"/v1/applications/{app_id}").status_code == 200
    assert api.get("/v1/applications/00000000-0000-4000-8000-000000000000").status_code == 404
    assert api.client.get("/no/such/route/42").status_code == 404
    after = samples(api.client)

    def grew(name: str, label_set: frozenset[tuple[str, str]]) -> float:
        return after[(name, label_set)] - before.get((name, label_set), 0.0)

    assert grew("procplane_http_requests_total", ok) == 3
    assert grew("procplane_http_requests_total", missing) == 1
    # One series per route, whatever the ids: the raw path never becomes a label.
    assert not [key for key in after if any(app_id in value for _, value in key[1])]
    unmatched = labels(method="GET", route="unmatched", status="404")
    assert grew("procplane_http_requests_total", unmatched) == 1
    # The histogram: a count, a sum and cumulative buckets ending in +Inf, per route and status.
    assert grew("procplane_http_request_duration_seconds_count", ok) == 3
    assert grew("procplane_http_request_duration_seconds_sum", ok) > 0
    assert grew("procplane_http_request_duration_seconds_bucket", ok | {("le", "+Inf")}) == 3
    buckets = sorted(
        (float(dict(key[1])["le"]), value)
        for key, value in after.items()
        if key[0] == "procplane_http_request_duration_seconds_bucket" and key[1] - {("le", dict(key[1])["le"])} == ok
    )
    assert len(buckets) > 5
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)


def test_metrics_need_no_key_and_are_never_rate_limited(tmp_path: Path) -> None:
    # One read a window per key: /metrics, like the probes, is outside every budget.
    settings = settings_for(tmp_path, rate_limit_reads=1)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        for _ in range(5):
            assert client.get("/metrics").status_code == 200
        before = samples(client)
        assert api.get("/v1/applications").status_code == 200
        assert api.get("/v1/applications").status_code == 429
        after = samples(client)
    key = ("procplane_rate_limit_refusals_total", labels(scope="reads"))
    assert after[key] - before.get(key, 0.0) == 1
    refused = ("procplane_http_requests_total", labels(method="GET", route="/v1/applications", status="429"))
    assert after[refused] - before.get(refused, 0.0) == 1


def test_request_id_is_returned_taken_from_the_client_when_sane_and_made_otherwise(api: Api) -> None:
    given = api.get("/v1/applications", headers={"X-Request-Id": "req-7f3a.b_2:9"})
    assert given.headers["x-request-id"] == "req-7f3a.b_2:9"
    made = api.get("/v1/applications")
    other = api.get("/v1/applications")
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != other.headers["x-request-id"]
    # An id that could forge a log line or a header is replaced, not echoed.
    forged = api.get("/v1/applications", headers={"X-Request-Id": 'x" injected=1 ' + "a" * 200})
    assert forged.headers["x-request-id"] != 'x" injected=1 ' + "a" * 200
    assert len(forged.headers["x-request-id"]) == 32
    # Refused and unrouted requests carry one too.
    assert api.as_key("pp_wrong").get("/v1/applications").headers["x-request-id"]
    assert api.client.get("/nothing-here").headers["x-request-id"]


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """The process's log as `procplane` writes it (JSON lines), captured for one test."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure(LogFormat.JSON, LogLevel.INFO, stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_access_log_lines_are_json_with_request_id_key_name_and_duration_never_the_token(
    tmp_path: Path, captured_log: io.StringIO
) -> None:
    with LiveServer(settings_for(tmp_path), access_log=True) as live:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-Id": "trace-42"}
        response = httpx.post(
            f"{live.url}/v1/api-keys", headers=headers, json={"name": "ci-deployer", "role": "deployer"}, timeout=30
        )
        assert response.status_code == 201, response.text
        created_token = response.json()["token"]
        response = httpx.get(
            f"{live.url}/v1/applications", headers={"Authorization": f"Bearer {created_token}"}, timeout=30
        )
        assert response.status_code == 200
        second_id = response.headers["x-request-id"]
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    first = next(line for line in access if line.get("request_id") == "trace-42")
    assert first["level"] == "info"
    assert first["method"] == "POST"
    assert first["path"] == "/v1/api-keys"
    assert first["status"] == 201
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    assert first["time"].endswith("Z")
    # The bootstrap key is the operator key the suite starts with; the second request's key is
    # the one just made, named as it was created.
    second = next(line for line in access if line.get("request_id") == second_id)
    assert second["api_key"] == "ci-deployer"
    assert "api_key" in first
    text = captured_log.getvalue()
    assert ADMIN_TOKEN not in text
    assert created_token not in text
