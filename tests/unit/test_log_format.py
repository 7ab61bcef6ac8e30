"""The one log configuration (`procplane.logs`): JSON lines with the unit of work's fields, text
on a terminal, and every logger (procplane's, uvicorn's, alembic's) through one handler."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.domain import logcontext
from controlplane.domain.settings import SettingsError, load_settings
from controlplane.domain.states import LogFormat, LogLevel
from procplane import logs


def record(
    name: str = "procplane.api", message: str = "hello %s", args: Any = ("world",), **extra: Any
) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_json_line_has_time_level_logger_message_and_the_bound_fields() -> None:
    with logcontext.bound(request_id="r-1", api_key="ci"):
        line = json.loads(logs.JsonFormatter().format(record(application_id="a-9")))
    assert line["level"] == "warning"
    assert line["logger"] == "procplane.api"
    assert line["message"] == "hello world"
    assert line["request_id"] == "r-1"
    assert line["api_key"] == "ci"
    assert line["application_id"] == "a-9"
    # ISO 8601 UTC with milliseconds, as everywhere in procplane.
    assert len(line["time"]) == len("2026-01-02T03:04:05.678Z")
    assert line["time"].endswith("Z")


def test_fields_are_unbound_when_the_unit_of_work_ends() -> None:
    with logcontext.bound(request_id="r-2"):
        pass
    assert "request_id" not in json.loads(logs.JsonFormatter().format(record()))


def test_uvicorn_access_line_becomes_structured_fields() -> None:
    access = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("10.0.0.7:5100", "GET", "/v1/teams", "1.1", 200))
    line = json.loads(logs.JsonFormatter().format(access))
    assert line["message"] == '10.0.0.7:5100 - "GET /v1/teams HTTP/1.1" 200'
    assert (line["client"], line["method"], line["path"], line["status"]) == ("10.0.0.7:5100", "GET", "/v1/teams", 200)


def test_exception_is_one_json_member_on_one_line() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        failed = record(message="pass failed", args=None)
        failed.exc_info = sys.exc_info()
    text = logs.JsonFormatter().format(failed)
    assert "\n" not in text
    assert "ValueError: broken" in json.loads(text)["exception"]


def test_text_line_is_readable_with_the_fields_after_it() -> None:
    with logcontext.bound(request_id="r-3"):
        text = logs.TextFormatter().format(record())
    assert text.endswith("WARNING procplane.api: hello world [request_id=r-3]")


def test_text_access_line_does_not_repeat_what_its_message_says() -> None:
    access = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("10.0.0.7:5100", "GET", "/v1/teams", "1.1", 200))
    with logcontext.bound(request_id="r-4", duration_ms=3.5):
        text = logs.TextFormatter().format(access)
    assert text.endswith(
        'WARNING uvicorn.access: 10.0.0.7:5100 - "GET /v1/teams HTTP/1.1" 200 [request_id=r-4 duration_ms=3.5]'
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("chosen", "stream", "expected"),
    [
        (LogFormat.AUTO, Terminal(), logs.TextFormatter),
        (LogFormat.AUTO, io.StringIO(), logs.JsonFormatter),
        (LogFormat.JSON, Terminal(), logs.JsonFormatter),
        (LogFormat.TEXT, io.StringIO(), logs.TextFormatter),
    ],
)
def test_auto_is_text_on_a_terminal_and_json_elsewhere(chosen: LogFormat, stream: io.StringIO, expected: type) -> None:
    assert type(logs.formatter_for(chosen, stream)) is expected


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    others = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in
              ("uvicorn", "uvicorn.access", "alembic")}  # fmt: skip
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, (handlers, propagate) in others.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.mark.usefixtures("restored_logging")
def test_every_logger_goes_through_one_handler_in_one_format() -> None:
    # uvicorn's own configuration gives its loggers handlers of their own that do not propagate.
    stray = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn.access").addHandler(stray)
    logging.getLogger("uvicorn.access").propagate = False
    stream = io.StringIO()
    logs.configure(LogFormat.JSON, LogLevel.INFO, stream)
    logging.getLogger("procplane").info("one")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "c", "GET", "/healthz", "1.1", 200)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0005 -> 0006")
    logging.getLogger("procplane").debug("below the level")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["procplane", "uvicorn.access", "alembic.runtime.migration"]
    assert stray not in logging.getLogger("uvicorn.access").handlers


def test_log_settings_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCPLANE_LOG_FORMAT", "JSON")
    monkeypatch.setenv("PROCPLANE_LOG_LEVEL", "debug")
    settings = load_settings()
    assert (settings.log_format, settings.log_level) == (LogFormat.JSON, LogLevel.DEBUG)
    monkeypatch.setenv("PROCPLANE_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="PROCPLANE_LOG_FORMAT must be one of auto, json, text, got 'xml'"):
        load_settings()
