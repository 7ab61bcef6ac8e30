"""Observing over HTTP: alert rules (seed 002's validation), heartbeats (seed 000), process search
with cursor pages (seed 003), node routing (seed 004), instances, samples and metric series.

What the reconciler's observer writes is written here by the observer's own storage code
(`reconciler.observations`) from pod JSON, as the observer would write it after a look."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controlplane.domain import observing
from controlplane.domain.settings import Settings
from controlplane.store import db, models
from controlplane.store.observations import Observations
from reconciler.observe import instances
from tests.api.conftest import Api, assert_problem

NOW = datetime.now(UTC).replace(microsecond=0)


def run(settings: Settings, work: Callable[[Observations], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            await work(Observations(db.session_factory(engine)))
        finally:
            await engine.dispose()

    asyncio.run(main())


def pod(name: str, node: str, *, restarts: int = 0, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:01Z",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "restartCount": restarts,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                    "lastState": {
                        "terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T00:00:04Z"}
                    }
                    if restarts
                    else {},
                }
            ],
        },
    }


def observe(
    settings: Settings,
    process_id: str,
    pods: list[dict[str, Any]],
    *,
    at: datetime = NOW,
    state: str | None = None,
    usage: observing.Usage | None = None,
) -> None:
    """One observation of a process, stored the way the observer stores it."""

    async def work(store: Observations) -> None:
        watched = next(w for w in await store.watched(at, 600) if w.id == process_id)
        current = [instances.from_pod(p, usage, watched.limits) for p in pods]
        summary = instances.aggregate(current, watched.limits)
        restarts = instances.restarts_between(watched.previous, current)
        await store.record(watched, at, current, restarts, summary, 60, [], {})
        if state is not None:
            async with store.factory() as session:
                session.add(models.ProcessStatus(process_id=process_id, state=state, conditions=[], updated_at=at))
                await session.commit()

    run(settings, work)


def fire(settings: Settings, process_id: str, rule: str, firing: bool = True) -> None:
    async def work(store: Observations) -> None:
        watched = next(w for w in await store.watched(NOW, 600) if w.id == process_id)
        change = observing.Transition(rule, firing, "test transition")
        await store.record(watched, NOW, list(watched.snapshot.values()), [], None, 60, [change], {})

    run(settings, work)


def nodes(settings: Settings) -> None:
    async def work(store: Observations) -> None:
        await store.record_nodes(
            {
                "kwok-node-0": ({"topology.kubernetes.io/zone": "zone-a", "type": "kwok"}, True),
                "kwok-node-1": ({"topology.kubernetes.io/zone": "zone-b", "type": "kwok"}, True),
            },
            NOW,
        )

    run(settings, work)


def viewer(api: Api) -> Api:
    response = api.post("/v1/api-keys", json={"name": "watcher", "role": "viewer"})
    assert response.status_code == 201, response.text
    return api.as_key(response.json()["token"])


@pytest.fixture
def process(api: Api, app_id: str) -> dict[str, Any]:
    return api.create_process(app_id, key="worker", type="worker", entrypoint="run")


def base(process: dict[str, Any]) -> str:
    return f"/v1/applications/{process['app_id']}/processes/{process['id']}"


# ---- alert rules ----


def test_alert_rules_default_to_seed_002s_defaults(api: Api, process: dict[str, Any]) -> None:
    rules = api.get(f"{base(process)}/alert-rules").json()
    assert rules["alert_on_down"] is True
    assert rules["alert_on_restart"] is False
    assert (rules["alert_on_cpu"], rules["alert_on_memory"]) == (False, False)
    assert (rules["cpu_threshold_pct"], rules["memory_threshold_pct"]) == (50.0, 25.0)
    assert rules["webhook_url"] is None
    assert rules["alerted_state"] == []


def test_alert_rules_change_and_the_secret_is_for_writers_only(api: Api, process: dict[str, Any]) -> None:
    body = {"alert_on_cpu": True, "cpu_threshold_pct": 80, "alert_on_memory": True, "memory_threshold_pct": 75.5,
            "webhook_url": "https://hooks.example/procplane"}  # fmt: skip
    response = api.patch(f"{base(process)}/alert-rules", json=body)
    assert response.status_code == 200, response.text
    rules = response.json()
    assert rules["cpu_threshold_pct"] == 80.0
    assert rules["memory_threshold_pct"] == 75.5
    assert rules["webhook_url"] == "https://hooks.example/procplane"
    secret = rules["webhook_secret"]
    assert secret.startswith("whsec_")
    assert api.get(f"{base(process)}/alert-rules").json()["webhook_secret"] == secret
    rotated = api.patch(f"{base(process)}/alert-rules", json={"rotate_webhook_secret": True}).json()
    assert rotated["webhook_secret"] not in (secret, None)
    watcher = viewer(api)
    seen = watcher.get(f"{base(process)}/alert-rules")
    assert seen.status_code == 200
    assert seen.json()["webhook_secret"] is None
    assert seen.json()["cpu_threshold_pct"] == 80.0
    assert_problem(watcher.patch(f"{base(process)}/alert-rules", json={"alert_on_down": False}), 403, "forbidden")
    cleared = api.patch(f"{base(process)}/alert-rules", json={"webhook_url": None}).json()
    assert cleared["webhook_url"] is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"cpu_threshold_pct": 0}, "cpu_threshold_pct", "out_of_range"),
        ({"cpu_threshold_pct": 0.009}, "cpu_threshold_pct", "out_of_range"),
        ({"memory_threshold_pct": 100.01}, "memory_threshold_pct", "out_of_range"),
        ({"memory_threshold_pct": -5}, "memory_threshold_pct", "out_of_range"),
        ({"cpu_threshold_pct": "80"}, "cpu_threshold_pct", "invalid_type"),
        ({"cpu_threshold_pct": True}, "cpu_threshold_pct", "invalid_type"),
        ({"alert_on_cpu": "yes"}, "alert_on_cpu", "invalid_type"),
        ({"alert_on_down": 1}, "alert_on_down", "invalid_type"),
        ({"enabled": True}, "enabled", "unknown_field"),
        ({}, "body", "no_fields"),
        ({"webhook_url": "ftp://hooks.example/x"}, "webhook_url", "invalid_url"),
        ({"webhook_url": "hooks.example/x"}, "webhook_url", "invalid_url"),
        ({"webhook_url": "https://hooks.example/" + "x" * 2030}, "webhook_url", "too_long"),
    ],
)
def test_alert_rule_validation(api: Api, process: dict[str, Any], body: dict[str, Any], field: str, code: str) -> None:
    problem = assert_problem(api.patch(f"{base(process)}/alert-rules", json=body), 400, "validation_failed", field)
    assert next(e for e in problem["errors"] if e["field"] == field)["code"] == code


def test_threshold_bounds_are_inclusive(api: Api, process: dict[str, Any]) -> None:
    body = {"cpu_threshold_pct": 0.01, "memory_threshold_pct": 100}
    rules = api.patch(f"{base(process)}/alert-rules", json=body).json()
    assert (rules["cpu_threshold_pct"], rules["memory_threshold_pct"]) == (0.01, 100.0)


def test_unknown_process_is_not_found(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/processes/nope"
    for suffix in ("/alert-rules", "/instances", "/samples", "/metrics/cpu-usage", "/webhook-deliveries"):
        assert_problem(api.get(path + suffix), 404, "not_found")


# ---- status, instances, samples, metrics ----


def test_status_is_alerting_while_up_and_a_rule_fires(settings: Settings, api: Api, process: dict[str, Any]) -> None:
    assert api.get(base(process)).json()["status"] == "pending"
    observe(settings, process["id"], [pod("w-1", "kwok-node-0")], state="up")
    shown = api.get(base(process)).json()
    assert shown["status"] == "up"
    assert shown["last_count"] == 1
    assert shown["last_sample_at"] is not None
    fire(settings, process["id"], "restart")
    shown = api.get(base(process)).json()
    assert shown["status"] == "alerting"
    assert shown["alerted_state"] == ["restart"]
    assert api.get(f"{base(process)}/alert-rules").json()["alerted_state"] == ["restart"]
    fire(settings, process["id"], "restart", firing=False)
    assert api.get(base(process)).json()["status"] == "up"


def test_instances_samples_and_restarts(settings: Settings, api: Api, process: dict[str, Any]) -> None:
    usage = observing.Usage(cpu_millicores=125.0, memory_bytes=128 * 1024 * 1024)
    observe(settings, process["id"], [pod("w-1", "kwok-node-0"), pod("w-2", "kwok-node-1")], usage=usage)
    observe(settings, process["id"], [pod("w-1", "kwok-node-0", restarts=2), pod("w-2", "kwok-node-1")],
            at=NOW + timedelta(seconds=60), usage=usage)  # fmt: skip
    listed = api.get(f"{base(process)}/instances").json()["data"]
    assert [i["name"] for i in listed] == ["w-1", "w-2"]
    one = api.get(f"{base(process)}/instances/w-1").json()
    assert one["node"] == "kwok-node-0"
    assert one["state"] == "running"
    assert one["ready"] is True
    assert one["restarts"] == 2
    assert one["last_termination_reason"] == "OOMKilled"
    assert one["last_exit_code"] == 137
    assert one["image"] == "nginx:1.27"
    assert one["started_at"] == "2026-01-01T00:00:05.000Z"
    assert one["cpu_millicores"] == 125.0
    assert one["memory_bytes"] == 128 * 1024 * 1024
    assert one["cpu_pct"] == 25.0  # of s1's 500 millicores
    assert one["memory_pct"] == 25.0  # of s1's 512 MB
    assert_problem(api.get(f"{base(process)}/instances/w-9"), 404, "not_found")
    samples = api.get(f"{base(process)}/samples").json()
    assert (samples["total"], samples["offset"], samples["limit"]) == (2, 0, 25)
    assert samples["recent_restarts"] == 2
    assert [s["count"] for s in samples["data"]] == [2, 2]
    assert samples["data"][0]["cpu_millicores"] == 250.0
    assert samples["data"][0]["cpu_pct"] == 25.0
    assert len(api.get(f"{base(process)}/samples", params={"limit": 1}).json()["data"]) == 1
    assert_problem(api.get(f"{base(process)}/samples", params={"limit": 0}), 400, "validation_failed", "limit")


def test_metric_series(settings: Settings, api: Api, process: dict[str, Any]) -> None:
    # Aligned to 4 minutes, so the 240-second bucket below holds the first three samples.
    start = datetime.fromtimestamp(int(NOW.timestamp()) // 240 * 240, UTC) - timedelta(minutes=12)
    for minute, count in ((0, 1), (1, 3), (3, 2)):
        pods = [pod(f"w-{i}", "kwok-node-0") for i in range(count)]
        usage = observing.Usage(cpu_millicores=100.0, memory_bytes=1000)
        observe(settings, process["id"], pods, at=start + timedelta(minutes=minute, seconds=5), usage=usage)
    params = {"from": str(int(start.timestamp())), "to": str(int((start + timedelta(minutes=4)).timestamp())),
              "interval_in_seconds": "60"}  # fmt: skip
    series = api.get(f"{base(process)}/metrics/instance-count", params=params).json()
    # Minutes 2 and 4 hold no sample, so they have no point.
    assert series == [
        {"time": (start + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "value": value}
        for minute, value in ((0, 1.0), (1, 3.0), (3, 2.0))
    ]
    cpu = api.get(f"{base(process)}/metrics/cpu-usage", params=params).json()
    assert [p["value"] for p in cpu] == [100.0, 300.0, 200.0]
    # The limits of the instances seen: s1 gives each 500 millicores and 512 MB.
    cpu_limit = api.get(f"{base(process)}/metrics/cpu-limit", params=params).json()
    assert [p["value"] for p in cpu_limit] == [500.0, 1500.0, 1000.0]
    memory_limit = api.get(f"{base(process)}/metrics/memory-limit", params=params).json()
    assert [p["value"] for p in memory_limit] == [n * 512 * 1024 * 1024.0 for n in (1, 3, 2)]
    memory = api.get(f"{base(process)}/metrics/memory-usage", params={**params, "interval_in_seconds": "240"}).json()
    assert memory[0]["value"] == 2000.0  # the mean of 1000, 3000 and 2000
    end = start + timedelta(minutes=1, seconds=30)
    iso = {"from": start.isoformat(), "to": end.isoformat(), "interval_in_seconds": "60"}
    assert len(api.get(f"{base(process)}/metrics/instance-count", params=iso).json()) == 2
    assert_problem(api.get(f"{base(process)}/metrics/disk-usage"), 404, "not_found")
    for bad, field, code in (
        ({"interval_in_seconds": "0"}, "interval_in_seconds", "out_of_range"),
        ({"interval_in_seconds": "1", "from": "0", "to": "86400"}, "interval_in_seconds", "too_many_points"),
        ({"from": "yesterday"}, "from", "invalid_time"),
        ({"from": "2000", "to": "1000"}, "from", "invalid_range"),
    ):
        problem = assert_problem(api.get(f"{base(process)}/metrics/cpu-usage", params=bad), 400, "validation_failed")
        assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in problem["errors"]]


# ---- heartbeats ----


def test_heartbeat_alive_dead_resurrected(api: Api, process: dict[str, Any]) -> None:
    assert_problem(api.get(f"{base(process)}/heartbeat"), 404, "not_found")
    created = api.put(f"{base(process)}/heartbeat", json={"interval_seconds": 1}).json()
    token = created["token"]
    assert token.startswith("pph_")
    assert created["status"] == "ALIVE"
    assert created["token_prefix"] == token[:10]
    ping = f"{base(process)}/actions/ping"
    pinger = api.as_key(token)
    assert pinger.post(ping).json()["status"] == "ALIVE"
    time.sleep(1.3)
    assert api.get(f"{base(process)}/heartbeat").json()["status"] == "DEAD"
    assert api.get(base(process)).json()["heartbeat_status"] == "DEAD"
    assert pinger.post(ping).json()["status"] == "RESURRECTED"
    assert pinger.post(ping).json()["status"] == "ALIVE"
    # A changed interval keeps the token; only a rotation issues a new one.
    changed = api.put(f"{base(process)}/heartbeat", json={"interval_seconds": 600}).json()
    assert "token" not in changed
    assert changed["interval_seconds"] == 600
    rotated = api.put(f"{base(process)}/heartbeat", json={"interval_seconds": 600, "rotate_token": True}).json()
    assert_problem(pinger.post(ping), 401, "unauthorized")
    assert api.as_key(rotated["token"]).post(ping).status_code == 200


def test_ping_authentication(api: Api, app_id: str, process: dict[str, Any]) -> None:
    token = api.put(f"{base(process)}/heartbeat", json={"interval_seconds": 60}).json()["token"]
    other = api.create_process(app_id, key="mailer", type="worker")
    other_token = api.put(f"{base(other)}/heartbeat", json={"interval_seconds": 60}).json()["token"]
    ping = f"{base(process)}/actions/ping"
    assert_problem(api.client.post(ping), 401, "unauthorized")
    assert_problem(api.as_key(other_token).post(ping), 401, "unauthorized")
    assert_problem(api.as_key("pph_forged").post(ping), 401, "unauthorized")
    assert_problem(viewer(api).post(ping), 403, "forbidden")
    assert api.post(ping).json()["status"] == "ALIVE"  # a writer's API key
    assert api.as_key(token).post(ping).status_code == 200
    assert_problem(api.as_key(token).post(f"/v1/applications/{app_id}/processes/nope/actions/ping"), 401,
                   "unauthorized")  # fmt: skip
    assert api.delete(f"{base(process)}/heartbeat").status_code == 200
    assert_problem(api.as_key(token).post(ping), 401, "unauthorized")


@pytest.mark.parametrize("interval", [0, -1, 30 * 24 * 3600 + 1])
def test_heartbeat_interval_bounds(api: Api, process: dict[str, Any], interval: int) -> None:
    problem = assert_problem(
        api.put(f"{base(process)}/heartbeat", json={"interval_seconds": interval}), 400, "validation_failed"
    )
    assert problem["errors"][0] == {
        "field": "interval_seconds", "code": "out_of_range", "message": "must be between 1 and 2592000",
    }  # fmt: skip


def test_heartbeat_body_is_strict(api: Api, process: dict[str, Any]) -> None:
    assert_problem(api.put(f"{base(process)}/heartbeat", json={"interval_seconds": "60"}), 400, "validation_failed",
                   "interval_seconds")  # fmt: skip
    assert_problem(api.put(f"{base(process)}/heartbeat", json={}), 400, "validation_failed", "interval_seconds")


# ---- search with cursor pages ----


def test_search_pages_return_every_process_exactly_once(api: Api) -> None:
    made = set()
    for app_name in ("alpha", "beta", "gamma"):
        app = api.create_app(app_name)
        for key in ("web", "worker", "mailer"):
            kind = "web" if key == "web" else "worker"
            made.add(api.create_process(app["id"], key=key, type=kind)["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"page[limit]": "4", **({"page[cursor]": cursor} if cursor else {})}
        body = api.get("/v1/processes", params=params).json()
        seen += [p["id"] for p in body["data"]]
        assert body["meta"]["page"]["size"] == len(body["data"])
        pages += 1
        cursor = body["meta"]["page"]["after"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(made) == 9
    assert set(seen) == made
    # A viewer key sees the same processes, read-only.
    assert len(viewer(api).get("/v1/processes", params={"page[limit]": "100"}).json()["data"]) == 9


def test_search_text_and_tags(settings: Settings, api: Api) -> None:
    shop = api.create_app("shop")
    blog = api.create_app("blog")
    api.create_process(shop["id"], key="web", type="web", entrypoint="gunicorn shop.wsgi")
    checkout = api.create_process(shop["id"], key="checkout", type="worker", display_name="Checkout queue")
    api.create_process(blog["id"], key="web", type="web")

    def keys(**params: str) -> list[str]:
        response = api.get("/v1/processes", params=params)
        assert response.status_code == 200, response.text
        return sorted(f"{p['application']}/{p['key']}" for p in response.json()["data"])

    assert keys(search="CHECKOUT") == ["shop/checkout"]
    assert keys(search="gunicorn") == ["shop/web"]
    assert keys(search="shop") == ["shop/checkout", "shop/web"]
    assert keys(tags="type:web") == ["blog/web", "shop/web"]
    assert keys(tags="application:shop,type:worker") == ["shop/checkout"]
    assert keys(search="%") == []
    observe(settings, checkout["id"], [pod("c-1", "kwok-node-1")], state="up")
    fire(settings, checkout["id"], "cpu")
    assert keys(tags="status:alerting") == ["shop/checkout"]
    assert keys(tags="status:pending") == ["blog/web", "shop/web"]
    assert keys(tags="node:kwok-node-1") == ["shop/checkout"]
    found = api.get("/v1/processes", params={"search": "checkout"}).json()["data"][0]
    assert "status:alerting" in found["tags"]
    assert found["instances"] == 1
    recent = {"from": str(int((NOW - timedelta(minutes=1)).timestamp()))}
    assert keys(**recent) == ["shop/checkout"]
    assert keys(**{"from": str(int((NOW + timedelta(hours=1)).timestamp()))}) == []


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"page[limit]": "0"}, "page[limit]", "out_of_range"),
        ({"page[limit]": "101"}, "page[limit]", "out_of_range"),
        ({"page[cursor]": "not-a-cursor"}, "page[cursor]", "invalid_cursor"),
        ({"tags": "owner:me"}, "tags", "unknown_tag"),
        ({"tags": "type"}, "tags", "invalid_format"),
        ({"from": "soon"}, "from", "invalid_time"),
        ({"from": "1700000900", "to": "1700000000"}, "from", "invalid_range"),
        ({"search": "x" * 201}, "search", "too_long"),
    ],
)
def test_search_validation(api: Api, params: dict[str, str], field: str, code: str) -> None:
    problem = assert_problem(api.get("/v1/processes", params=params), 400, "validation_failed", field)
    assert next(e for e in problem["errors"] if e["field"] == field)["code"] == code


# ---- node routing ----


def test_instances_by_node_all_and_label(settings: Settings, api: Api, process: dict[str, Any]) -> None:
    nodes(settings)
    observe(settings, process["id"], [pod("w-1", "kwok-node-0"), pod("w-2", "kwok-node-1")])

    def route(node: str) -> dict[str, list[str]]:
        response = api.get(f"/v1/nodes/{node}/instances")
        assert response.status_code == 200, response.text
        return {r["node"]: [i["name"] for i in r["instances"]] for r in response.json()["results"]}

    assert route("kwok-node-0") == {"kwok-node-0": ["w-1"]}
    assert route("_all") == {"kwok-node-0": ["w-1"], "kwok-node-1": ["w-2"]}
    assert route("topology.kubernetes.io/zone:zone-b") == {"kwok-node-1": ["w-2"]}
    assert route("type:none") == {}
    assert len(route("_any")) == 1
    assert viewer(api).get("/v1/nodes/_all/instances").status_code == 200
    assert_problem(api.get("/v1/nodes/kwok-node-9/instances"), 404, "not_found")
    assert_problem(api.get("/v1/nodes/a:b:c/instances"), 400, "validation_failed", "node")
    assert_problem(api.get("/v1/nodes/kwok-node-0/pods"), 404, "not_found")


def test_old_samples_are_downsampled_hourly_then_dropped(settings: Settings, api: Api, process: dict[str, Any]) -> None:
    hour = NOW.replace(minute=0, second=0) - timedelta(days=2)
    for minute, count in ((5, 1), (20, 3), (40, 2)):  # three raw samples in one hour, two days ago
        observe(settings, process["id"], [pod(f"w-{i}", "kwok-node-0") for i in range(count)],
                at=hour + timedelta(minutes=minute))  # fmt: skip
    observe(settings, process["id"], [pod("w-0", "kwok-node-0")], at=NOW - timedelta(days=40))
    observe(settings, process["id"], [pod("w-0", "kwok-node-0")], at=NOW)

    async def compact(store: Observations) -> None:
        await store.compact(NOW, raw_retention_hours=24, retention_days=30)

    run(settings, compact)
    samples = api.get(f"{base(process)}/samples").json()
    assert samples["total"] == 2
    recent, merged = samples["data"]
    assert (recent["resolution_seconds"], recent["count"]) == (60, 1)
    assert merged["resolution_seconds"] == 3600
    assert merged["recorded_at"] == hour.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert merged["count"] == 2  # the mean of 1, 3 and 2
    run(settings, compact)  # compacting again changes nothing
    assert api.get(f"{base(process)}/samples").json()["total"] == 2
