"""The Procfile and app.json parsers, as pure functions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from controlplane.api.processes import procfile
from controlplane.api.processes.procfile import DeclaredProcess
from controlplane.domain.errors import ValidationFailed


def refused(call: Any, *args: Any) -> list[tuple[str, str, int | None]]:
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    return [(e.field, e.code, e.line) for e in caught.value.errors]


def test_mapping_and_line_numbers() -> None:
    text = "# header\n\nweb: bin/web --port $PORT\nrelease: bin/migrate\n  worker :  bin/work  \nClock_Tick: bin/tick\n"
    assert procfile.parse_procfile(text) == [
        DeclaredProcess(key="web", type="web", entrypoint="bin/web --port $PORT", line=3),
        DeclaredProcess(
            key="release", type="job", entrypoint="bin/migrate", line=4, job_start_policy="beforeDeployment"
        ),
        DeclaredProcess(key="worker", type="worker", entrypoint="bin/work", line=5),
        DeclaredProcess(key="clock-tick", type="worker", entrypoint="bin/tick", line=6),
    ]


def test_commands_keep_their_colons_and_hashes() -> None:
    (entry,) = procfile.parse_procfile("worker: sh -c 'echo a:b # not a comment'")
    assert entry.entrypoint == "sh -c 'echo a:b # not a comment'"


def test_windows_line_endings() -> None:
    entries = procfile.parse_procfile("web: a\r\nworker: b\r\n")
    assert [(e.key, e.entrypoint, e.line) for e in entries] == [("web", "a", 1), ("worker", "b", 2)]


@pytest.mark.parametrize(
    ("name", "key"),
    [("Some_Name", "some-name"), ("WEB", "web"), ("worker_2", "worker-2"), ("a-b", "a-b"), ("Release", "release")],
)
def test_entry_key(name: str, key: str) -> None:
    assert procfile.entry_key(name) == key


def test_uppercase_web_and_release_keep_their_roles() -> None:
    entries = procfile.parse_procfile("WEB: a\nRelease: b\n")
    assert [(e.key, e.type, e.job_start_policy) for e in entries] == [
        ("web", "web", None),
        ("release", "job", "beforeDeployment"),
    ]


def test_every_malformed_line_is_reported() -> None:
    text = "web a\nworker:\nweb: ok\nWeb: again\nna me: x\n: nameless\nweb_: fine\n"
    assert refused(procfile.parse_procfile, text) == [
        ("procfile", "invalid_line", 1),
        ("procfile", "missing_command", 2),
        ("procfile", "duplicate_entry", 4),
        ("procfile", "invalid_line", 5),
        ("procfile", "invalid_line", 6),
    ]


def test_duplicate_entry_names_the_first_line() -> None:
    with pytest.raises(ValidationFailed) as caught:
        procfile.parse_procfile("worker_a: x\n\nworker-a: y\n")
    (error,) = caught.value.errors
    assert (error.code, error.line) == ("duplicate_entry", 3)
    assert "line 1" in error.message


@pytest.mark.parametrize("text", ["", "\n", "# nothing\n   # here\n"])
def test_empty_procfile(text: str) -> None:
    assert refused(procfile.parse_procfile, text) == [("procfile", "required", None)]


def test_app_json_cron_entries() -> None:
    body = json.dumps(
        {
            "name": "x",
            "scripts": {"postdeploy": "bin/setup"},
            "cron": [
                {"command": "bin/report", "schedule": "0 * * * *"},
                {"command": "bin/clean", "schedule": "@daily", "key": "clean", "time_zone": "Europe/Paris"},
            ],
        }
    ).encode()
    derived = "cron-" + hashlib.sha256(b"bin/report").hexdigest()[:8]
    assert procfile.parse_app_json(body) == [
        DeclaredProcess(
            key=derived, type="cron", entrypoint="bin/report", line=0, schedule="0 * * * *", time_zone="UTC"
        ),
        DeclaredProcess(
            key="clean", type="cron", entrypoint="bin/clean", line=1, schedule="@daily", time_zone="Europe/Paris"
        ),
    ]


def test_app_json_derived_keys_are_stable_and_distinct() -> None:
    body = json.dumps({"cron": [{"command": "a", "schedule": "@daily"}, {"command": "b", "schedule": "@daily"}]})
    first = [e.key for e in procfile.parse_app_json(body.encode())]
    assert first == [e.key for e in procfile.parse_app_json(body.encode())]
    assert len(set(first)) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", [("app_json", "invalid_json", None)]),
        (b"[]", [("app_json", "invalid_type", None)]),
        (b'"cron"', [("app_json", "invalid_type", None)]),
        (b"{}", [("cron", "required", None)]),
        (b'{"cron": null}', [("cron", "required", None)]),
        (b'{"cron": []}', [("cron", "required", None)]),
        (b'{"bogus": 1}', [("bogus", "unknown_field", None), ("cron", "required", None)]),
        (b'{"cron": [1]}', [("cron[0]", "invalid_type", None)]),
        (
            b'{"cron": [{"command": "", "schedule": 5, "key": 1, "time_zone": [], "at": "x"}]}',
            [
                ("cron[0].at", "unknown_field", None),
                ("cron[0].command", "required", None),
                ("cron[0].schedule", "required", None),
                ("cron[0].key", "invalid_type", None),
                ("cron[0].time_zone", "invalid_type", None),
            ],
        ),
        (
            b'{"cron": [{"command": "a", "schedule": "@daily", "key": "k"}, {"command": "b", "schedule": "@daily",'
            b' "key": "k"}]}',
            [("cron[1].key", "duplicate_entry", None)],
        ),
    ],
)
def test_app_json_shape(body: bytes, expected: list[tuple[str, str, int | None]]) -> None:
    assert refused(procfile.parse_app_json, body) == expected


def test_nul_characters() -> None:
    assert refused(procfile.parse_procfile, "web: a\x00") == [("procfile", "invalid_character", None)]
    body = b'{"cron": [{"command": "a", "schedule": "@daily", "key": "k\\u0000"}]}'
    assert refused(procfile.parse_app_json, body) == [("cron[0].key", "invalid_character", None)]
