"""Declaring processes with a Procfile (text/plain) or an app.json cron list (application/json),
over HTTP on both databases: mapping, idempotence, pruning, line-numbered errors, all or nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controlplane.domain.settings import Settings
from tests.api.conftest import ADMIN_TOKEN, Api, assert_problem, make_client

PROCFILE = """# the processes of my-app
web: gunicorn app:app --bind 0.0.0.0:$PORT

release: python manage.py migrate --noinput
worker:   celery -A app worker -l info
Some_Name: bin/some-thing --flag=a:b
    # an indented comment
"""


@pytest.fixture(scope="module")
def shared_app(module_api: Api) -> str:
    """An application that every refused import of this module must leave without processes."""
    return str(module_api.create_app()["id"])


def put_procfile(
    api: Api, app_id: str, text: str | bytes, *, prune: bool = False, content_type: str = "text/plain"
) -> httpx.Response:
    return api.put(
        f"/v1/applications/{app_id}/procfile",
        content=text.encode() if isinstance(text, str) else text,
        params={"prune": "true"} if prune else {},
        headers={"Content-Type": content_type},
    )


def put_app_json(api: Api, app_id: str, document: Any, *, prune: bool = False) -> httpx.Response:
    return api.put(
        f"/v1/applications/{app_id}/procfile",
        content=json.dumps(document).encode(),
        params={"prune": "true"} if prune else {},
        headers={"Content-Type": "application/json"},
    )


def processes(api: Api, app_id: str) -> dict[str, dict[str, Any]]:
    listed = api.get(f"/v1/applications/{app_id}/processes", params={"limit": 100}).json()
    return {p["key"]: p for p in listed["data"]}


def errors_of(response: httpx.Response) -> list[tuple[str, str, int | None]]:
    body = assert_problem(response, 400, "validation_failed")
    return sorted((e["field"], e["code"], e.get("line")) for e in body["errors"])


def result(created: list[str] = [], updated: list[str] = [], unchanged: list[str] = [], removed: list[str] = []) -> Any:  # noqa: B006
    return {"created": created, "updated": updated, "unchanged": unchanged, "removed": removed}


def test_procfile_maps_entries_to_processes(api: Api, app_id: str) -> None:
    response = put_procfile(api, app_id, PROCFILE)
    assert response.status_code == 200, response.text
    assert response.json() == result(created=["web", "release", "worker", "some-name"])
    found = processes(api, app_id)
    assert set(found) == {"web", "release", "worker", "some-name"}
    assert (found["web"]["type"], found["web"]["entrypoint"]) == ("web", "gunicorn app:app --bind 0.0.0.0:$PORT")
    assert found["web"]["is_ingress_enabled"] is True
    assert found["web"]["port"] == 8080
    release = found["release"]
    assert (release["type"], release["job_start_policy"]) == ("job", "beforeDeployment")
    assert release["entrypoint"] == "python manage.py migrate --noinput"
    assert (found["worker"]["type"], found["worker"]["entrypoint"]) == ("worker", "celery -A app worker -l info")
    assert (found["some-name"]["type"], found["some-name"]["entrypoint"]) == ("worker", "bin/some-thing --flag=a:b")
    for process in found.values():
        assert process["scaling_strategy"] == {"type": "manual", "config": {"instanceCount": 1}}
        assert process["resource_type_name"] == "s1"
        assert process["display_name"] == process["key"]
        assert process["generation"] == 1


def test_crlf_and_charset(api: Api, app_id: str) -> None:
    response = put_procfile(
        api, app_id, "web: npm start\r\nworker: npm run work\r\n", content_type="text/plain; charset=utf-8"
    )
    assert response.json() == result(created=["web", "worker"])
    assert processes(api, app_id)["web"]["entrypoint"] == "npm start"


def test_reput_is_unchanged_and_a_changed_command_updates(api: Api, app_id: str) -> None:
    put_procfile(api, app_id, PROCFILE)
    before = processes(api, app_id)
    again = put_procfile(api, app_id, PROCFILE)
    assert again.json() == result(unchanged=["web", "release", "worker", "some-name"])
    assert processes(api, app_id) == before
    changed = PROCFILE.replace("-l info", "-l debug")
    response = put_procfile(api, app_id, changed)
    assert response.json() == result(updated=["worker"], unchanged=["web", "release", "some-name"])
    after = processes(api, app_id)
    assert after["worker"]["entrypoint"] == "celery -A app worker -l debug"
    assert after["worker"]["generation"] == 2
    assert after["worker"]["id"] == before["worker"]["id"]
    assert after["web"] == before["web"]


def test_import_keeps_what_the_procfile_does_not_say(api: Api, app_id: str) -> None:
    put_procfile(api, app_id, "worker: a\n")
    worker = processes(api, app_id)["worker"]
    scaled = {"type": "manual", "config": {"instanceCount": 4}}
    m2 = api.resource_type("m2")["id"]
    path = f"/v1/applications/{app_id}/processes/{worker['id']}"
    assert api.patch(path, json={"scaling_strategy": scaled, "resource_type_id": m2}).status_code == 200
    assert put_procfile(api, app_id, "worker: b\n").json() == result(updated=["worker"])
    after = api.get(path).json()
    assert (after["entrypoint"], after["scaling_strategy"], after["resource_type_id"]) == ("b", scaled, m2)


def test_without_prune_unlisted_processes_stay(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="extra", type="worker")
    response = put_procfile(api, app_id, "web: a\n")
    assert response.json() == result(created=["web"])
    assert set(processes(api, app_id)) == {"extra", "web"}


def test_prune_removes_unlisted_but_not_crons(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="extra", type="worker")
    api.create_process(app_id, key="migrate", type="job")
    api.create_process(app_id, key="nightly", type="cron", schedule="0 3 * * *", time_zone="UTC")
    put_app_json(api, app_id, {"cron": [{"command": "bin/report", "schedule": "@hourly", "key": "report"}]})
    response = put_procfile(api, app_id, "web: a\nworker: b\n", prune=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body["removed"]) == ["extra", "migrate"]
    assert (body["created"], body["updated"], body["unchanged"]) == (["web", "worker"], [], [])
    assert set(processes(api, app_id)) == {"web", "worker", "nightly", "report"}


def test_app_json_prune_removes_only_crons(api: Api, app_id: str) -> None:
    put_procfile(api, app_id, "web: a\nworker: b\n")
    put_app_json(api, app_id, {"cron": [{"command": "x", "schedule": "@daily", "key": "old"}]})
    response = put_app_json(api, app_id, {"cron": [{"command": "y", "schedule": "@daily", "key": "new"}]}, prune=True)
    assert response.json() == result(created=["new"], removed=["old"])
    assert set(processes(api, app_id)) == {"web", "worker", "new"}


def test_prune_makes_room_for_a_new_web(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="frontend", type="web")
    response = put_procfile(api, app_id, "web: a\n")
    assert errors_of(response) == [("procfile.key", "web_already_exists", None)]
    assert set(processes(api, app_id)) == {"frontend"}
    response = put_procfile(api, app_id, "web: a\n", prune=True)
    assert response.json() == result(created=["web"], removed=["frontend"])
    assert set(processes(api, app_id)) == {"web"}


def test_malformed_lines_are_reported_with_their_numbers(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    text = "\n".join(
        [
            "# comment",  # 1
            "web gunicorn app:app",  # 2: no colon
            "worker:",  # 3: no command
            "bad name: x",  # 4: a space in the name
            "clock: bin/clock",  # 5: fine
            "Clock: bin/other",  # 6: the same key as line 5
            ": nameless",  # 7
        ]
    )
    assert errors_of(put_procfile(api, app_id, text)) == [
        ("procfile", "duplicate_entry", 6),
        ("procfile", "invalid_line", 2),
        ("procfile", "invalid_line", 4),
        ("procfile", "invalid_line", 7),
        ("procfile", "missing_command", 3),
    ]
    assert processes(api, app_id) == {}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n"])
def test_a_procfile_without_processes(module_api: Api, shared_app: str, text: str) -> None:
    api, app_id = module_api, shared_app
    assert errors_of(put_procfile(api, app_id, text)) == [("procfile", "required", None)]


def test_all_or_nothing(api: Api, app_id: str) -> None:
    text = "web: a\nworker: b\n" + "x" * 60 + ": c\n-bad: d\njob: " + "e" * 1025 + "\n"
    assert errors_of(put_procfile(api, app_id, text)) == [
        ("procfile.entrypoint", "too_long", 5),
        ("procfile.key", "invalid_format", 4),
        ("procfile.key", "too_long", 3),
    ]
    assert processes(api, app_id) == {}
    # Nor does a refused import change what exists.
    put_procfile(api, app_id, "worker: b\n")
    before = processes(api, app_id)
    assert put_procfile(api, app_id, "worker: changed\n-bad: d\n", prune=True).status_code == 400
    assert processes(api, app_id) == before


def test_type_conflict(api: Api, app_id: str) -> None:
    api.create_process(app_id, key="backup", type="cron", schedule="0 0 * * *", time_zone="UTC")
    response = put_procfile(api, app_id, "web: a\nbackup: bin/backup\n")
    assert errors_of(response) == [("procfile.key", "type_conflict", 2)]
    assert set(processes(api, app_id)) == {"backup"}
    api.create_process(app_id, key="worker", type="worker")
    response = put_app_json(api, app_id, {"cron": [{"command": "x", "schedule": "@daily", "key": "worker"}]})
    assert errors_of(response) == [("app_json.key", "type_conflict", 0)]


def test_a_web_entry_named_otherwise_is_a_worker(api: Api, app_id: str) -> None:
    put_procfile(api, app_id, "Web_Server: a\nRELEASE_TASKS: b\n")
    found = processes(api, app_id)
    assert {k: p["type"] for k, p in found.items()} == {"web-server": "worker", "release-tasks": "worker"}


def test_app_json_cron_list(api: Api, app_id: str) -> None:
    document: dict[str, Any] = {
        "name": "my-app",
        "env": {"SECRET_KEY": {"generator": "secret"}},
        "formation": {"web": {"quantity": 1}},
        "cron": [
            {"command": "bin/report", "schedule": "0 * * * *"},
            {"command": "bin/cleanup", "schedule": "@daily", "key": "cleanup", "time_zone": "America/New_York"},
        ],
    }
    response = put_app_json(api, app_id, document)
    assert response.status_code == 200, response.text
    derived = "cron-" + hashlib.sha256(b"bin/report").hexdigest()[:8]
    assert response.json() == result(created=[derived, "cleanup"])
    found = processes(api, app_id)
    report, cleanup = found[derived], found["cleanup"]
    assert (report["type"], report["entrypoint"], report["schedule"], report["time_zone"]) == (
        "cron",
        "bin/report",
        "0 * * * *",
        "UTC",
    )
    assert (cleanup["schedule"], cleanup["time_zone"]) == ("@daily", "America/New_York")
    assert put_app_json(api, app_id, document).json() == result(unchanged=[derived, "cleanup"])
    document["cron"][1]["schedule"] = "@weekly"
    assert put_app_json(api, app_id, document).json() == result(updated=["cleanup"], unchanged=[derived])
    assert processes(api, app_id)["cleanup"]["generation"] == 2


def test_app_json_rules_name_the_entry(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    document = {
        "cron": [
            {"command": "a", "schedule": "0 * * * *"},
            {"command": "b", "schedule": "* * *"},
            {"command": "c", "schedule": "0 0 * * * *", "time_zone": "Mars/Olympus"},
            {"command": "d", "schedule": "@daily", "key": "Bad_Key"},
        ]
    }
    assert errors_of(put_app_json(api, app_id, document)) == [
        ("app_json.key", "invalid_format", 3),
        ("app_json.schedule", "invalid_cron", 1),
        ("app_json.schedule", "invalid_cron", 2),
        ("app_json.time_zone", "invalid_time_zone", 2),
    ]
    assert processes(api, app_id) == {}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"cron": [{"command": "a", "schedule": "@daily", "when": "now"}]}, [("cron[0].when", "unknown_field")]),
        ({"procfile": "web: a", "cron": [{"command": "a", "schedule": "@daily"}]}, [("procfile", "unknown_field")]),
        ({"name": "x"}, [("cron", "required")]),
        ({"cron": []}, [("cron", "required")]),
        ({"cron": {"command": "a"}}, [("cron", "required")]),
        ({"cron": ["a"]}, [("cron[0]", "invalid_type")]),
        ({"cron": [{"command": "a"}]}, [("cron[0].schedule", "required")]),
        ({"cron": [{"schedule": "@daily", "command": " "}]}, [("cron[0].command", "required")]),
        ({"cron": [{"command": "a", "schedule": "@daily", "key": 3}]}, [("cron[0].key", "invalid_type")]),
        (
            {"cron": [{"command": "a", "schedule": "@daily", "time_zone": None}]},
            [("cron[0].time_zone", "invalid_type")],
        ),
        (
            {"cron": [{"command": "a", "schedule": "@daily"}, {"command": "a", "schedule": "@hourly"}]},
            [("cron[1].key", "duplicate_entry")],
        ),
        ([{"command": "a", "schedule": "@daily"}], [("app_json", "invalid_type")]),
    ],
)
def test_app_json_shape(module_api: Api, shared_app: str, document: Any, expected: list[tuple[str, str]]) -> None:
    api, app_id = module_api, shared_app
    response = put_app_json(api, app_id, document)
    assert [(f, c) for f, c, _ in errors_of(response)] == expected
    assert processes(api, app_id) == {}


def test_app_json_must_be_json(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    response = api.put(
        f"/v1/applications/{app_id}/procfile", content=b"cron: []", headers={"Content-Type": "application/json"}
    )
    assert [(f, c) for f, c, _ in errors_of(response)] == [("app_json", "invalid_json")]


@pytest.mark.parametrize("content_type", ["application/xml", "multipart/form-data; boundary=x", "text/yaml"])
def test_other_content_types(module_api: Api, shared_app: str, content_type: str) -> None:
    api, app_id = module_api, shared_app
    response = put_procfile(api, app_id, "web: a\n", content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")
    assert processes(api, app_id) == {}


def test_procfile_must_be_utf8(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    assert errors_of(put_procfile(api, app_id, b"web: caf\xe9\n")) == [("procfile", "invalid_encoding", None)]


def test_nul_characters_are_refused(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    assert errors_of(put_procfile(api, app_id, "web: a\x00\n")) == [("procfile", "invalid_character", None)]
    response = put_app_json(api, app_id, {"cron": [{"command": "a\x00", "schedule": "@daily"}]})
    assert errors_of(response) == [("cron[0].command", "invalid_character", None)]
    assert processes(api, app_id) == {}


def test_procfile_size_limit(module_api: Api, shared_app: str) -> None:
    api, app_id = module_api, shared_app
    text = "web: a\n" + "# padding\n" * 7000
    assert errors_of(put_procfile(api, app_id, text)) == [("body", "too_long", None)]


def test_unknown_application(api: Api) -> None:
    response = put_procfile(api, "00000000-0000-4000-8000-000000000000", "web: a\n")
    assert_problem(response, 404, "not_found")


@pytest.fixture
def limited(database_url: str) -> Iterator[Api]:
    settings = Settings(database_url=database_url, bootstrap_token=ADMIN_TOKEN, max_processes_per_application=2)
    with make_client(settings) as client:
        yield Api(client)


def test_plan_limit_on_import(limited: Api) -> None:
    api = limited
    app_id = api.create_app()["id"]
    response = put_procfile(api, app_id, "web: a\nworker: b\nclock: c\n")
    body = assert_problem(response, 402, "plan_limit_reached")
    assert (body["scope"], body["limit"]) == ("per_application", 2)
    assert processes(api, app_id) == {}
    assert put_procfile(api, app_id, "web: a\nworker: b\n").status_code == 200
    response = put_app_json(api, app_id, {"cron": [{"command": "x", "schedule": "@daily"}]})
    assert_problem(response, 402, "plan_limit_reached")
    assert set(processes(api, app_id)) == {"web", "worker"}
    # Pruning frees the slots the new entries take.
    response = put_procfile(api, app_id, "web: a\nclock: c\n", prune=True)
    assert response.json() == result(created=["clock"], unchanged=["web"], removed=["worker"])
