"""The seed contract's example process round-trips exactly, on both databases."""

from __future__ import annotations

import re

from tests.api.conftest import Api

SEED_PROCESS = {
    "key": "web",
    "type": "web",
    "display_name": "Web Process",
    "entrypoint": "npm start",
    "port": 8080,
    "scaling_strategy": {"type": "manual", "config": {"instanceCount": 1}},
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_seed_example_round_trips(api: Api, app_id: str) -> None:
    s1 = api.resource_type("s1")
    created = api.create_process(app_id, **SEED_PROCESS, resource_type_id=s1["id"])
    fetched = api.get(f"/v1/applications/{app_id}/processes/{created['id']}").json()
    assert fetched == created
    for field, value in SEED_PROCESS.items():
        assert fetched[field] == value
    assert fetched["resource_type_name"] == "s1"
    assert (fetched["cpu_limit"], fetched["memory_limit"]) == (500, 512)
    app = api.get(f"/v1/applications/{app_id}").json()
    assert fetched["internal_hostname"] == f"my-app-web.{app['namespace']}.svc.cluster.local"
    assert re.fullmatch(r"my-app-[a-z0-9]{6}", app["namespace"])
    assert TIMESTAMP.match(fetched["created_at"])
    assert TIMESTAMP.match(fetched["updated_at"])
    listed = api.get(f"/v1/applications/{app_id}/processes").json()
    assert listed == {"data": [fetched], "total": 1, "offset": 0, "limit": 25}
