"""Logging for every procplane command, configured once here: one handler on the root logger, so
procplane's lines, the server's (uvicorn's error and access logs) and the migrations' (alembic's)
come out in one format on stderr.

- JSON, one object a line, for a log collector: `time` (ISO 8601 UTC, milliseconds), `level`,
  `logger`, `message`, the fields bound to the unit of work (`controlplane.domain.logcontext`:
  `request_id`, `api_key`, `application_id`...), the record's own structured fields (`extra=`),
  and `exception` when there is one.
- Text for a person at a terminal: the same line, with the fields as `key=value` after it.

`auto` picks text when stderr is a terminal and JSON otherwise (a container's stderr is not).
Nothing here decides what is logged: secrets are kept out where they are handled (the API logs a
key's name, never its token; the database errors log their kind and statement, never parameters)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from controlplane.domain import logcontext
from controlplane.domain.states import LogFormat, LogLevel

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Loggers that install handlers of their own (uvicorn's defaults); theirs are removed so every
# line goes through the root handler once.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")
# uvicorn's access log passes its parts as arguments: (client, method, path, HTTP version, status).
_ACCESS_LOGGER = "uvicorn.access"
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


def fields_of(record: logging.LogRecord, *, access_parts: bool = True) -> dict[str, Any]:
    """The structured fields of a record: the unit of work's, then the record's own (with
    `access_parts`, an access line's parts, which its message also shows)."""
    fields: dict[str, Any] = dict(logcontext.current())
    if (
        access_parts
        and record.name == _ACCESS_LOGGER
        and isinstance(record.args, tuple)
        and len(record.args) == len(_ACCESS_FIELDS)
    ):
        fields.update(zip(_ACCESS_FIELDS, record.args, strict=True))
    fields.update((key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = fields_of(record, access_parts=False)  # a reader sees them in the message
        if not fields:
            return line
        first, newline, rest = line.partition("\n")  # a traceback stays below the line
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{first} [{pairs}]{newline}{rest}"


def formatter_for(log_format: LogFormat, stream: TextIO) -> logging.Formatter:
    if log_format is LogFormat.AUTO:
        log_format = LogFormat.TEXT if stream.isatty() else LogFormat.JSON
    return TextFormatter() if log_format is LogFormat.TEXT else JsonFormatter()


def configure(
    log_format: LogFormat = LogFormat.AUTO, level: LogLevel = LogLevel.INFO, stream: TextIO | None = None
) -> None:
    """Route every logger to one handler on `stream` (stderr) in `log_format`; idempotent."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(log_format, stream))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def uvicorn_options(level: LogLevel) -> dict[str, Any]:
    """uvicorn's logging arguments: it sets its loggers' level but installs no handler or format
    of its own (`configure` has routed them)."""
    return {"log_config": None, "log_level": level.value, "access_log": True}
