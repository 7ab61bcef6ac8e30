"""Parsing of Procfiles and of the `cron` list of an app.json (pure, no I/O)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from controlplane.api import strict_body
from controlplane.domain.errors import FieldError, ValidationFailed

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.*)$")
# Heroku's release phase: the `release` entry runs before every deployment.
RELEASE_ENTRY = "release"
APP_JSON_KEYS = frozenset(
    {
        "name",
        "description",
        "keywords",
        "website",
        "repository",
        "logo",
        "success_url",
        "scripts",
        "env",
        "formation",
        "addons",
        "buildpacks",
        "environments",
        "stack",
        "image",
        "healthchecks",
        "cron",
    }
)


class DeclaredProcess(msgspec.Struct, frozen=True, kw_only=True):
    """A process as a Procfile line or an app.json cron entry declares it."""

    key: str
    type: str
    entrypoint: str
    line: int
    schedule: str | None = None
    time_zone: str | None = None
    job_start_policy: str | None = None


def entry_key(name: str) -> str:
    """Procfile names may use '_' and capitals; object names may not."""
    return name.lower().replace("_", "-")


def parse_procfile(text: str) -> list[DeclaredProcess]:
    if "\x00" in text:
        raise ValidationFailed([FieldError("procfile", "invalid_character", "must not contain NUL characters")])
    errors: list[FieldError] = []
    declared: list[DeclaredProcess] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        if match is None:
            errors.append(FieldError("procfile", "invalid_line", "expected '<name>: <command>'", line=number))
            continue
        name, command = match.group(1), match.group(2).strip()
        key = entry_key(name)
        if not command:
            errors.append(FieldError("procfile", "missing_command", f"'{name}' has no command", line=number))
            continue
        if key in seen:
            errors.append(
                FieldError(
                    "procfile", "duplicate_entry", f"'{name}' is already declared on line {seen[key]}", line=number
                )
            )
            continue
        seen[key] = number
        if key == "web":
            declared.append(DeclaredProcess(key=key, type="web", entrypoint=command, line=number))
        elif key == RELEASE_ENTRY:
            declared.append(
                DeclaredProcess(
                    key=key, type="job", entrypoint=command, line=number, job_start_policy="beforeDeployment"
                )
            )
        else:
            declared.append(DeclaredProcess(key=key, type="worker", entrypoint=command, line=number))
    if errors:
        raise ValidationFailed(errors, "The Procfile has malformed lines")
    if not declared:
        raise ValidationFailed([FieldError("procfile", "required", "the Procfile declares no process")])
    return declared


def _cron_key(command: str) -> str:
    return "cron-" + hashlib.sha256(command.encode()).hexdigest()[:8]


def parse_app_json(body: bytes) -> list[DeclaredProcess]:
    """Dokku's convention: `{"cron": [{"command": ..., "schedule": ...}]}`. procplane also reads an
    optional `key` and `time_zone` per entry; other app.json sections are accepted and ignored."""
    document = strict_body.parse_json(body, "app_json")
    if not isinstance(document, dict):
        raise ValidationFailed([FieldError("app_json", "invalid_type", "must be a JSON object")])
    errors = [
        FieldError(name, "unknown_field", "not an app.json field") for name in document if name not in APP_JSON_KEYS
    ]
    entries = document.get("cron")
    if not isinstance(entries, list) or not entries:
        errors.append(FieldError("cron", "required", "must be a non-empty list of {command, schedule}"))
        raise ValidationFailed(errors)
    declared: list[DeclaredProcess] = []
    keys: dict[str, int] = {}
    for index, entry in enumerate(entries):
        errors += _cron_entry_errors(index, entry)
        if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
            continue
        key = entry.get("key") or _cron_key(entry["command"])
        if key in keys:
            errors.append(
                FieldError(f"cron[{index}].key", "duplicate_entry", f"'{key}' is already declared by cron[{keys[key]}]")
            )
        keys[key] = index
        declared.append(
            DeclaredProcess(
                key=key,
                type="cron",
                entrypoint=entry["command"],
                line=index,
                schedule=entry.get("schedule"),
                time_zone=entry.get("time_zone", "UTC"),
            )
        )
    if errors:
        raise ValidationFailed(errors, "The app.json is not valid")
    return declared


def _cron_entry_errors(index: int, entry: Any) -> list[FieldError]:
    field = f"cron[{index}]"
    if not isinstance(entry, dict):
        return [FieldError(field, "invalid_type", "must be an object with command and schedule")]
    errors = [
        FieldError(f"{field}.{name}", "unknown_field", "not a cron entry field")
        for name in entry
        if name not in {"command", "schedule", "key", "time_zone"}
    ]
    for name in ("command", "schedule"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            errors.append(FieldError(f"{field}.{name}", "required", "must be a non-empty string"))
    for name in ("key", "time_zone"):
        if name in entry and not isinstance(entry[name], str):
            errors.append(FieldError(f"{field}.{name}", "invalid_type", "must be a string"))
    return errors
