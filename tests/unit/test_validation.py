"""The validation rules as pure functions: each returns the exact field errors, no I/O."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from controlplane.domain import validation
from controlplane.domain.errors import FieldError
from controlplane.domain.validation import ProcessDraft

Errors = list[tuple[str, str]]


def pairs(errors: list[FieldError]) -> Errors:
    return [(e.field, e.code) for e in errors]


def draft(process_type: str = "worker", **fields: Any) -> ProcessDraft:
    base = ProcessDraft(
        key=process_type,
        type=process_type,
        display_name=process_type,
        entrypoint=None,
        port=8080,
        is_ingress_enabled=process_type == "web",
        ingress_protocol="http" if process_type == "web" else None,
        scaling_strategy={"type": "manual", "config": {"instanceCount": 1}},
        resource_type_id="ignored-here",
        schedule="0 * * * *" if process_type == "cron" else None,
        time_zone="UTC" if process_type == "cron" else None,
        job_start_policy="beforeDeployment" if process_type == "job" else None,
        liveness_probe=None,
        readiness_probe=None,
    )
    return msgspec.structs.replace(base, **fields)


@pytest.mark.parametrize("process_type", validation.PROCESS_TYPES)
def test_defaults_of_each_type_are_valid(process_type: str) -> None:
    assert validation.process_errors(draft(process_type), "my-app") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a", []),
        ("my-app-2", []),
        ("a" * 30, []),
        ("", [("name", "too_short")]),
        ("a" * 31, [("name", "too_long")]),
        ("A", [("name", "invalid_format")]),
        ("a_b", [("name", "invalid_format")]),
        ("-a", [("name", "invalid_format")]),
        ("a-", [("name", "invalid_format")]),
        ("A" * 31, [("name", "too_long"), ("name", "invalid_format")]),
    ],
)
def test_application_name(name: str, expected: Errors) -> None:
    assert pairs(validation.application_name_errors(name)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", []), ("x" * 255, []), ("", [("display_name", "too_short")]), ("x" * 256, [("display_name", "too_long")])],
)
def test_display_name(value: str, expected: Errors) -> None:
    assert pairs(validation.display_name_errors(value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", []), ("x" * 100, []), ("", [("name", "too_short")]), ("x" * 101, [("name", "too_long")])],
)
def test_api_key_name(value: str, expected: Errors) -> None:
    assert pairs(validation.api_key_name_errors(value)) == expected


@pytest.mark.parametrize(
    "image",
    [
        None,
        "nginx",
        "nginx:1.27-alpine",
        "localhost:5000/app",
        "ghcr.io/org/team/app:v1",
        "app@sha256:" + "f" * 64,
        "registry.k8s.io/pause:3.9@sha256:" + "0" * 64,
    ],
)
def test_valid_images(image: str | None) -> None:
    assert validation.image_errors(image) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("", [("image", "too_short")]),
        ("x" * 513, [("image", "too_long")]),
        ("UPPER", [("image", "invalid_format")]),
        ("app:", [("image", "invalid_format")]),
        ("app:-tag", [("image", "invalid_format")]),
        ("app@sha256:" + "f" * 63, [("image", "invalid_format")]),
        ("a b", [("image", "invalid_format")]),
        ("/app", [("image", "invalid_format")]),
    ],
)
def test_invalid_images(image: str, expected: Errors) -> None:
    assert pairs(validation.image_errors(image)) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"A": "1", "_b": None, "C_9": ""}, []),
        ({}, [("vars", "required")]),
        ({"9A": "x"}, [("vars.9A", "invalid_format")]),
        ({"A-B": None}, [("vars.A-B", "invalid_format")]),
        ({"K" * 253: "x"}, []),
        ({"K" * 254: "x"}, [("vars." + "K" * 254, "too_long")]),
        ({"BIG": "x" * 32768}, []),
        ({"BIG": "x" * 32769}, [("vars.BIG", "too_long")]),
        # The limit counts bytes: 'é' is two in UTF-8.
        ({"BIG": "é" * 16385}, [("vars.BIG", "too_long")]),
    ],
)
def test_config_vars(changes: dict[str, str | None], expected: Errors) -> None:
    assert pairs(validation.config_var_errors(changes)) == expected


@pytest.mark.parametrize(
    ("key", "app_name", "expected"),
    [
        ("web", "my-app", []),
        ("k" * 56, "my-app", []),
        ("k" * 57, "my-app", [("key", "too_long")]),
        ("k" * 61, "a", []),
        ("k" * 62, "a", [("key", "too_long")]),
        ("k" * 65, "a", [("key", "too_long"), ("key", "too_long")]),
        ("", "my-app", [("key", "too_short")]),
        ("Web", "my-app", [("key", "invalid_format")]),
        ("w.b", "my-app", [("key", "invalid_format")]),
    ],
)
def test_key(key: str, app_name: str, expected: Errors) -> None:
    assert pairs(validation.key_errors(key, app_name)) == expected


def test_key_errors_name_the_given_field() -> None:
    assert pairs(validation.key_errors("Bad", "my-app", field="procfile.key")) == [("procfile.key", "invalid_format")]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("0 * * * *", []),
        ("*/15 9-17 * * 1-5", []),
        ("0 0 1 jan sun", []),
        ("@hourly", []),
        ("@yearly", []),
        ("", [("schedule", "too_short")]),
        ("0 " * 50 + "x", [("schedule", "too_long")]),
        ("* * *", [("schedule", "invalid_cron")]),
        ("0 0 * * * *", [("schedule", "invalid_cron")]),
        ("60 * * * *", [("schedule", "invalid_cron")]),
        ("* 24 * * *", [("schedule", "invalid_cron")]),
        ("@reboot", [("schedule", "invalid_cron")]),
        ("every hour", [("schedule", "invalid_cron")]),
    ],
)
def test_schedule(schedule: str, expected: Errors) -> None:
    assert pairs(validation.schedule_errors(schedule)) == expected


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", []),
        ("America/New_York", []),
        ("Asia/Kolkata", []),
        ("", [("time_zone", "too_short")]),
        ("Z" * 101, [("time_zone", "too_long")]),
        ("Mars/Olympus", [("time_zone", "invalid_time_zone")]),
        ("america/new_york", [("time_zone", "invalid_time_zone")]),
        ("+02:00", [("time_zone", "invalid_time_zone")]),
    ],
)
def test_time_zone(zone: str, expected: Errors) -> None:
    assert pairs(validation.time_zone_errors(zone)) == expected


HPA = "scaling_strategy.config"


def horizontal(low: int = 1, high: int = 3, **config: Any) -> dict[str, Any]:
    return {"type": "horizontal", "config": {"minInstanceCount": low, "maxInstanceCount": high, **config}}


def manual(count: int) -> dict[str, Any]:
    return {"type": "manual", "config": {"instanceCount": count}}


@pytest.mark.parametrize(
    ("process", "expected"),
    [
        (draft("web", port=1), []),
        (draft("web", port=65535), []),
        (draft("web", port=0), [("port", "out_of_range")]),
        (draft("web", port=65536), [("port", "out_of_range")]),
        (draft(entrypoint=""), [("entrypoint", "too_short")]),
        (draft(entrypoint="x" * 1024), []),
        (draft(entrypoint="x" * 1025), [("entrypoint", "too_long")]),
        (draft(display_name=""), [("display_name", "too_short")]),
        (draft(is_ingress_enabled=True), [("is_ingress_enabled", "not_allowed_for_type")]),
        (draft("cron", ingress_protocol="http"), [("ingress_protocol", "not_allowed_for_type")]),
        (draft("job", liveness_probe={"exec": {"command": ["x"]}}), [("liveness_probe", "not_allowed_for_type")]),
        (draft(readiness_probe={"tcpSocket": {"port": 1}}), [("readiness_probe", "not_allowed_for_type")]),
        (draft("web", is_ingress_enabled=False, ingress_protocol=None), []),
        (draft(scaling_strategy=manual(0)), []),
        (draft(scaling_strategy=manual(50)), []),
        (draft(scaling_strategy=manual(51)), [(f"{HPA}.instanceCount", "out_of_range")]),
        (draft("cron", scaling_strategy=manual(0)), []),
        (draft("cron", scaling_strategy=manual(2)), [(f"{HPA}.instanceCount", "out_of_range")]),
        (draft("job", scaling_strategy=manual(2)), [(f"{HPA}.instanceCount", "out_of_range")]),
        (draft("cron", scaling_strategy=horizontal()), [("scaling_strategy.type", "not_allowed_for_type")]),
        (draft("job", scaling_strategy=horizontal()), [("scaling_strategy.type", "not_allowed_for_type")]),
        (draft("web", scaling_strategy=horizontal(1, 50)), []),
        (draft("web", scaling_strategy=horizontal(0, 3)), [(f"{HPA}.minInstanceCount", "out_of_range")]),
        (draft("web", scaling_strategy=horizontal(4, 3)), [(f"{HPA}.maxInstanceCount", "min_exceeds_max")]),
        (draft("web", scaling_strategy=horizontal(3, 51)), [(f"{HPA}.maxInstanceCount", "out_of_range")]),
        (draft("worker", schedule="0 * * * *"), [("schedule", "not_allowed_for_type")]),
        (draft("web", time_zone="UTC"), [("time_zone", "not_allowed_for_type")]),
        (draft("cron", schedule=None), [("schedule", "required")]),
        (draft("cron", time_zone=None), [("time_zone", "required")]),
        (draft("cron", schedule="* * *"), [("schedule", "invalid_cron")]),
        (draft("cron", time_zone="Mars/Olympus"), [("time_zone", "invalid_time_zone")]),
        (draft("worker", job_start_policy="beforeDeployment"), [("job_start_policy", "not_allowed_for_type")]),
        (draft("job", job_start_policy="afterFailedDeployment"), []),
    ],
)
def test_process_rules(process: ProcessDraft, expected: Errors) -> None:
    assert pairs(validation.process_errors(process, "my-app")) == expected


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("targetCpuPercent", 1, 100),
        ("targetMemoryPercent", 1, 100),
        ("scaleUpIntervalSeconds", 1, 60000),
        ("scaleDownIntervalSeconds", 1, 60000),
        ("scaleUpIncrement", 1, 5),
        ("scaleDownIncrement", 1, 5),
    ],
)
def test_horizontal_ranges(name: str, low: int, high: int) -> None:
    for value in (low, high):
        assert validation.process_errors(draft("web", scaling_strategy=horizontal(**{name: value})), "a") == []
    for value in (low - 1, high + 1):
        errors = validation.process_errors(draft("web", scaling_strategy=horizontal(**{name: value})), "a")
        assert pairs(errors) == [(f"{HPA}.{name}", "out_of_range")]


def probe(**fields: Any) -> dict[str, Any]:
    return {"httpGet": {"path": "/", "port": 8080}, **fields}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("liveness_probe", probe(), []),
        ("liveness_probe", probe(successThreshold=1), []),
        ("liveness_probe", probe(successThreshold=2), [("liveness_probe.successThreshold", "out_of_range")]),
        ("readiness_probe", probe(successThreshold=2), []),
        ("readiness_probe", {"exec": {"command": ["true"]}}, []),
        ("readiness_probe", {"tcpSocket": {"port": "http"}}, []),
        ("readiness_probe", {"grpc": {"port": 9090}}, []),
        ("readiness_probe", {}, [("readiness_probe", "probe_handler")]),
        (
            "readiness_probe",
            {"exec": {"command": ["true"]}, "grpc": {"port": 1}},
            [("readiness_probe", "probe_handler")],
        ),
        ("liveness_probe", {"exec": {"command": []}}, [("liveness_probe.exec.command", "required")]),
        ("liveness_probe", {"httpGet": {"port": 0}}, [("liveness_probe.httpGet.port", "out_of_range")]),
        ("liveness_probe", {"grpc": {"port": 65536}}, [("liveness_probe.grpc.port", "out_of_range")]),
        ("liveness_probe", {"tcpSocket": {"port": "-x"}}, [("liveness_probe.tcpSocket.port", "invalid_format")]),
        ("liveness_probe", {"httpGet": {"port": 1, "path": "x"}}, [("liveness_probe.httpGet.path", "invalid_format")]),
        ("readiness_probe", probe(initialDelaySeconds=0, periodSeconds=1, timeoutSeconds=3600), []),
        ("readiness_probe", probe(initialDelaySeconds=-1), [("readiness_probe.initialDelaySeconds", "out_of_range")]),
        ("readiness_probe", probe(periodSeconds=0), [("readiness_probe.periodSeconds", "out_of_range")]),
        ("readiness_probe", probe(timeoutSeconds=3601), [("readiness_probe.timeoutSeconds", "out_of_range")]),
        ("readiness_probe", probe(failureThreshold=101), [("readiness_probe.failureThreshold", "out_of_range")]),
        (
            "readiness_probe",
            probe(terminationGracePeriodSeconds=0),
            [("readiness_probe.terminationGracePeriodSeconds", "out_of_range")],
        ),
    ],
)
def test_probes(field: str, value: dict[str, Any], expected: Errors) -> None:
    assert pairs(validation.process_errors(draft("web", **{field: value}), "my-app")) == expected


def test_every_bad_field_is_reported_at_once() -> None:
    bad = draft(
        "cron",
        key="Bad",
        display_name="",
        port=0,
        schedule="* * *",
        time_zone="Nowhere",
        job_start_policy="beforeDeployment",
        scaling_strategy=horizontal(),
        is_ingress_enabled=True,
    )
    assert sorted(pairs(validation.process_errors(bad, "my-app"))) == sorted(
        [
            ("key", "invalid_format"),
            ("display_name", "too_short"),
            ("port", "not_allowed_for_type"),  # web processes only
            ("is_ingress_enabled", "not_allowed_for_type"),
            ("scaling_strategy.type", "not_allowed_for_type"),
            ("schedule", "invalid_cron"),
            ("time_zone", "invalid_time_zone"),
            ("job_start_policy", "not_allowed_for_type"),
        ]
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", []),
        ("a\x00", [("body", "invalid_character")]),
        ({"a": ["x", {"b": "\x00"}]}, [("a[1].b", "invalid_character")]),
        ({"k\x00": "v"}, [("k\x00", "invalid_character")]),
        ({"n": 1, "t": True, "z": None}, []),
    ],
)
def test_nul_characters(value: Any, expected: Errors) -> None:
    assert pairs(validation.nul_errors(value)) == expected


@pytest.mark.parametrize(
    ("process_type", "display_name", "taken", "expected"),
    [
        ("web", "Anything at all", set(), "web"),
        ("web", None, {"web"}, "web-2"),
        ("worker", "Background Jobs!", set(), "background-jobs"),
        ("worker", "  --Émile's  queue--  ", set(), "mile-s-queue"),
        ("worker", "Mailer", {"mailer", "mailer-2"}, "mailer-3"),
        ("cron", "!!!", set(), "cron"),
        ("job", None, {"job"}, "job-2"),
        # "my-app-" leaves 56 characters of the 63 an object name may have.
        ("worker", "x" * 80, set(), "x" * 56),
        ("worker", "x" * 80, {"x" * 56}, "x" * 54 + "-2"),
        ("worker", "a" * 55 + " b", set(), "a" * 55),
    ],
)
def test_derive_key(process_type: str, display_name: str | None, taken: set[str], expected: str) -> None:
    key = validation.derive_key(process_type, display_name, "my-app", taken)
    assert key == expected
    assert validation.key_errors(key, "my-app") == []


@pytest.mark.parametrize(
    ("process_type", "given", "expected"),
    [
        (
            "web",
            {"time_zone": "", "schedule": None, "job_start_policy": "", "port": 0},
            {"time_zone", "schedule", "job_start_policy"},
        ),
        (
            "cron",
            {"port": 0, "is_ingress_enabled": False, "ingress_protocol": "", "schedule": ""},
            {"port", "is_ingress_enabled", "ingress_protocol"},
        ),
        ("worker", {"is_ingress_enabled": True, "time_zone": "UTC", "entrypoint": ""}, set()),
        ("job", {"liveness_probe": None, "job_start_policy": ""}, {"liveness_probe"}),
    ],
)
def test_blanks_not_applying(process_type: str, given: dict[str, Any], expected: set[str]) -> None:
    assert validation.blanks_not_applying(process_type, given) == expected
