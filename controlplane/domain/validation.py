"""Pure validation of application and process specs: every rule of the process contract,
each failure reported as a FieldError so one response names every bad field."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Any

import msgspec
from croniter import croniter

from controlplane.domain import states
from controlplane.domain.errors import FieldError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIG_VAR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A container image reference: [registry/]path[:tag][@digest], without whitespace.
IMAGE_REFERENCE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?"
    r"(@sha256:[a-f0-9]{64})?$",
    re.ASCII,
)
# The patterns are written for the OpenAPI document too (`^...$`); Python's `$` also matches before a
# final newline, so every check uses `fullmatch`.
PROBE_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

APP_NAME_MAX = 30
KEY_MAX = 64
DISPLAY_NAME_MAX = 255
API_KEY_NAME_MAX = 100
TEAM_NAME_MAX = 63
OBJECT_NAME_MAX = 63
MAX_INSTANCES = 50
# Config vars become one Kubernetes Secret, whose data is limited to 1 MiB: half of it leaves
# room for the base64 encoding the apiserver stores and for the object's metadata.
CONFIG_VAR_VALUE_MAX = 32 * 1024
CONFIG_VAR_KEY_MAX = 253  # a Secret's data key
CONFIG_VARS_MAX = 1000
CONFIG_VARS_TOTAL_MAX = 512 * 1024
IMAGE_MAX = 512
ENTRYPOINT_MAX = 1024
SCHEDULE_MAX = 100
TIME_ZONE_MAX = 100
PORT_MAX = 65535
# Inclusive ranges of the probe fields (Kubernetes' names), the horizontal scaling fields and the
# job fields; the API's wire types show the same ranges in the OpenAPI document.
PROBE_RANGES: dict[str, tuple[int, int]] = {
    "initialDelaySeconds": (0, 3600),
    "periodSeconds": (1, 3600),
    "timeoutSeconds": (1, 3600),
    "successThreshold": (1, 100),
    "failureThreshold": (1, 100),
    "terminationGracePeriodSeconds": (1, 3600),
}
HORIZONTAL_RANGES: dict[str, tuple[int, int]] = {
    "targetCpuPercent": (1, 100),
    "targetMemoryPercent": (1, 100),
    "scaleUpIntervalSeconds": (1, 60000),
    "scaleDownIntervalSeconds": (1, 60000),
    "scaleUpIncrement": (1, 5),
    "scaleDownIncrement": (1, 5),
}
JOB_RANGES: dict[str, tuple[int, int]] = {
    "job_timeout_seconds": (1, 86400),
    "job_retries": (0, 10),
    "job_ttl_seconds": (0, 7 * 86400),
}

PROCESS_TYPES = tuple(states.ProcessType)
# The fields that mean something for some process types only. Sent to a process of another type
# as a blank ("", 0, false or null) they mean "no value": Sevalla's clients send them that way.
TYPE_SPECIFIC_FIELDS: dict[str, frozenset[str]] = {
    "port": frozenset({"web"}),
    "is_ingress_enabled": frozenset({"web"}),
    "ingress_protocol": frozenset({"web"}),
    "liveness_probe": frozenset({"web"}),
    "readiness_probe": frozenset({"web"}),
    "schedule": frozenset({"cron"}),
    "time_zone": frozenset({"cron"}),
    "job_start_policy": frozenset({"job"}),
    "job_timeout_seconds": frozenset({"job"}),
    "job_retries": frozenset({"job"}),
    "job_ttl_seconds": frozenset({"job"}),
}
DEFAULT_TIME_ZONE = "UTC"
# Stored for every process (the column is not null), served and shown for web processes only.
DEFAULT_PORT = 8080


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and value in ("", 0))


def blanks_not_applying(process_type: str, given: dict[str, Any]) -> set[str]:
    """The fields of a request that do not apply to `process_type` and were sent blank."""
    return {
        name
        for name, value in given.items()
        if name in TYPE_SPECIFIC_FIELDS and process_type not in TYPE_SPECIFIC_FIELDS[name] and is_blank(value)
    }


class ProcessDefinition(msgspec.Struct, kw_only=True):
    """The fields of a process spec that read the same stored and on the wire (the API's process
    extends them with what it shows differently and with what runs)."""

    key: str
    type: str
    display_name: str
    is_ingress_enabled: bool
    ingress_protocol: str | None
    scaling_strategy: dict[str, Any]
    resource_type_id: str
    schedule: str | None
    time_zone: str | None
    job_start_policy: str | None
    liveness_probe: dict[str, Any] | None
    readiness_probe: dict[str, Any] | None
    job_timeout_seconds: int | None = None
    job_retries: int | None = None
    job_ttl_seconds: int | None = None


class ProcessDraft(ProcessDefinition, kw_only=True):
    """A process spec in its stored form, after defaults, before it is written."""

    entrypoint: str | None
    port: int


def _length(errors: list[FieldError], field: str, value: str, low: int, high: int) -> None:
    if len(value) < low:
        errors.append(FieldError(field, "too_short", f"must be at least {low} characters"))
    elif len(value) > high:
        errors.append(FieldError(field, "too_long", f"must be at most {high} characters"))


def _range(errors: list[FieldError], field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        errors.append(FieldError(field, "out_of_range", f"must be between {low} and {high}"))


def nul_errors(value: Any, path: str = "") -> list[FieldError]:
    """PostgreSQL text cannot hold NUL characters, so no string of a request may contain one."""
    if isinstance(value, str):
        return (
            [FieldError(path or "body", "invalid_character", "must not contain NUL characters")]
            if "\x00" in value
            else []
        )
    errors: list[FieldError] = []
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            errors += nul_errors(key, field) + nul_errors(item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors += nul_errors(item, f"{path}[{index}]")
    return errors


def _dns_label_errors(field: str, value: str, longest: int) -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, field, value, 1, longest)
    if value and not DNS_LABEL.fullmatch(value):
        errors.append(
            FieldError(
                field,
                "invalid_format",
                "must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric",
            )
        )
    return errors


def application_name_errors(name: str) -> list[FieldError]:
    return _dns_label_errors("name", name, APP_NAME_MAX)


def display_name_errors(display_name: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, "display_name", display_name, 1, DISPLAY_NAME_MAX)
    return errors


def team_name_errors(name: str) -> list[FieldError]:
    return _dns_label_errors("name", name, TEAM_NAME_MAX)


def api_key_name_errors(name: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, "name", name, 1, API_KEY_NAME_MAX)
    return errors


def image_errors(image: str | None) -> list[FieldError]:
    if image is None:
        return []
    errors: list[FieldError] = []
    _length(errors, "image", image, 1, IMAGE_MAX)
    if image and not IMAGE_REFERENCE.fullmatch(image):
        errors.append(FieldError("image", "invalid_format", "must be a container image reference"))
    return errors


def config_var_errors(changes: dict[str, str | None]) -> list[FieldError]:
    """The rules of one change: environment variable names, and bounded keys and values."""
    errors: list[FieldError] = []
    if not changes:
        errors.append(FieldError("vars", "required", "name at least one variable to set or unset"))
    if len(changes) > CONFIG_VARS_MAX:
        # Refused before each key is looked at: a bounded answer to an unbounded request.
        return [FieldError("vars", "too_many", f"at most {CONFIG_VARS_MAX} variables per application")]
    for key, value in changes.items():
        field = f"vars.{key}"
        if len(key) > CONFIG_VAR_KEY_MAX:
            errors.append(FieldError(field, "too_long", f"keys are at most {CONFIG_VAR_KEY_MAX} characters"))
        elif not CONFIG_VAR_KEY.fullmatch(key):
            errors.append(
                FieldError(field, "invalid_format", "keys are letters, digits and '_', not starting with a digit")
            )
        if value is not None and len(value.encode()) > CONFIG_VAR_VALUE_MAX:
            errors.append(FieldError(field, "too_long", f"values are at most {CONFIG_VAR_VALUE_MAX} bytes"))
    return errors


def config_vars_size_errors(resulting: dict[str, str]) -> list[FieldError]:
    """The rules of the whole set a change leaves, which must fit the application's Secret."""
    if len(resulting) > CONFIG_VARS_MAX:
        return [FieldError("vars", "too_many", f"at most {CONFIG_VARS_MAX} variables per application")]
    total = sum(len(key.encode()) + len(value.encode()) for key, value in resulting.items())
    if total > CONFIG_VARS_TOTAL_MAX:
        return [
            FieldError(
                "vars",
                "too_large",
                f"keys and values together are at most {CONFIG_VARS_TOTAL_MAX} bytes per application",
            )
        ]
    return []


def key_errors(key: str, app_name: str, field: str = "key") -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, field, key, 1, KEY_MAX)
    if key and not DNS_LABEL.fullmatch(key):
        errors.append(
            FieldError(
                field,
                "invalid_format",
                "must be a DNS label: lowercase letters, digits and '-', starting and ending alphanumeric",
            )
        )
    elif key and len(app_name) + 1 + len(key) > OBJECT_NAME_MAX:
        errors.append(
            FieldError(
                field,
                "too_long",
                f"'{app_name}-{key}' names Kubernetes objects and must fit {OBJECT_NAME_MAX} characters",
            )
        )
    return errors


def derive_key(process_type: str, display_name: str | None, app_name: str, taken: set[str]) -> str:
    """The key of a process created without one: `web` for the web process, else a DNS-label
    slug of its display name (the type when nothing is left of it), numbered from 2 when taken.
    It fits both the key's limit and the `{app}-{key}` object names."""
    if process_type == "web":
        base = "web"
    else:
        base = re.sub(r"[^a-z0-9]+", "-", (display_name or "").lower()).strip("-") or process_type
    room = min(KEY_MAX, OBJECT_NAME_MAX - len(app_name) - 1)
    candidate, number = base[:room].rstrip("-"), 1
    while candidate in taken or not candidate:
        number += 1
        suffix = f"-{number}"
        candidate = base[: room - len(suffix)].rstrip("-") + suffix
    return candidate


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def schedule_errors(schedule: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, "schedule", schedule, 1, SCHEDULE_MAX)
    if errors:
        return errors
    text = schedule.strip()
    # Kubernetes CronJobs take five fields or a macro; croniter alone would also take seconds.
    if text not in CRON_MACROS and (len(text.split()) != 5 or not croniter.is_valid(text)):
        errors.append(
            FieldError("schedule", "invalid_cron", "must be a five-field cron expression or a macro like @hourly")
        )
    return errors


def time_zone_errors(time_zone: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _length(errors, "time_zone", time_zone, 1, TIME_ZONE_MAX)
    if not errors and time_zone not in _time_zones():
        errors.append(FieldError("time_zone", "invalid_time_zone", "must be an IANA time zone name"))
    return errors


def _probe_errors(field: str, probe: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in probe]
    if len(handlers) != 1:
        errors.append(FieldError(field, "probe_handler", "set exactly one of exec, httpGet, tcpSocket or grpc"))
    for handler in handlers:
        action = probe[handler]
        if handler == "exec" and not action.get("command"):
            errors.append(FieldError(f"{field}.exec.command", "required", "must name a command"))
        port = action.get("port")
        if isinstance(port, int):
            _range(errors, f"{field}.{handler}.port", port, 1, PORT_MAX)
        elif isinstance(port, str) and not PROBE_PORT_NAME.fullmatch(port):
            errors.append(FieldError(f"{field}.{handler}.port", "invalid_format", "must be a port number or name"))
        path = action.get("path")
        if handler == "httpGet" and path is not None and not path.startswith("/"):
            errors.append(FieldError(f"{field}.httpGet.path", "invalid_format", "must start with '/'"))
    for name, (low, high) in PROBE_RANGES.items():
        if name in probe:
            _range(errors, f"{field}.{name}", probe[name], low, high)
    if field == "liveness_probe" and probe.get("successThreshold", 1) != 1:
        errors.append(FieldError(f"{field}.successThreshold", "out_of_range", "must be 1 for a liveness probe"))
    return errors


def _scaling_errors(process_type: str, scaling: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    config = scaling["config"]
    prefix = "scaling_strategy.config"
    if scaling["type"] == "manual":
        high = 1 if process_type in ("cron", "job") else MAX_INSTANCES
        _range(errors, f"{prefix}.instanceCount", config["instanceCount"], 0, high)
        return errors
    if process_type in ("cron", "job"):
        errors.append(
            FieldError(
                "scaling_strategy.type", "not_allowed_for_type", f"{process_type} processes cannot scale horizontally"
            )
        )
        return errors
    low, high = config["minInstanceCount"], config["maxInstanceCount"]
    if low == 0:
        errors.append(
            FieldError(
                f"{prefix}.minInstanceCount",
                "out_of_range",
                "must be between 1 and 50: the horizontal autoscaler cannot scale to zero",
            )
        )
    else:
        _range(errors, f"{prefix}.minInstanceCount", low, 1, MAX_INSTANCES)
    _range(errors, f"{prefix}.maxInstanceCount", high, 1, MAX_INSTANCES)
    if low > high:
        errors.append(FieldError(f"{prefix}.maxInstanceCount", "min_exceeds_max", "must be at least minInstanceCount"))
    for name, (lo, hi) in HORIZONTAL_RANGES.items():
        if name in config:
            _range(errors, f"{prefix}.{name}", config[name], lo, hi)
    return errors


def process_errors(draft: ProcessDraft, app_name: str) -> list[FieldError]:
    """Every rule of the process contract that needs no database."""
    errors = key_errors(draft.key, app_name)
    errors += display_name_errors(draft.display_name)
    if draft.entrypoint is not None:
        _length(errors, "entrypoint", draft.entrypoint, 1, ENTRYPOINT_MAX)
    is_web = draft.type == "web"
    if is_web:
        _range(errors, "port", draft.port, 1, PORT_MAX)
    elif draft.port != DEFAULT_PORT:
        errors.append(FieldError("port", "not_allowed_for_type", "only web processes take this field"))
    web_only = {
        "is_ingress_enabled": draft.is_ingress_enabled,
        "ingress_protocol": draft.ingress_protocol,
        "liveness_probe": draft.liveness_probe,
        "readiness_probe": draft.readiness_probe,
    }
    for field, value in web_only.items():
        if not is_web and value:
            errors.append(FieldError(field, "not_allowed_for_type", "only web processes take this field"))
    if is_web and draft.ingress_protocol == "":
        errors.append(FieldError("ingress_protocol", "invalid_choice", "must be 'http' or 'grpc'"))
    for field, probe in (("liveness_probe", draft.liveness_probe), ("readiness_probe", draft.readiness_probe)):
        if is_web and probe is not None:
            errors += _probe_errors(field, probe)
    errors += _scaling_errors(draft.type, draft.scaling_strategy)
    is_cron = draft.type == "cron"
    for field, value, check in (
        ("schedule", draft.schedule, schedule_errors),
        ("time_zone", draft.time_zone, time_zone_errors),
    ):
        if is_cron and value is None:
            errors.append(FieldError(field, "required", "cron processes need this field"))
        elif not is_cron and value is not None:
            errors.append(FieldError(field, "not_allowed_for_type", "only cron processes take this field"))
        elif value is not None:
            errors += check(value)
    for job_field, (low, high) in JOB_RANGES.items():
        setting = getattr(draft, job_field)
        if setting is None:
            continue
        if draft.type != "job":
            errors.append(FieldError(job_field, "not_allowed_for_type", "only job processes take this field"))
        else:
            _range(errors, job_field, setting, low, high)
    if draft.type != "job" and draft.job_start_policy is not None:
        errors.append(FieldError("job_start_policy", "not_allowed_for_type", "only job processes take this field"))
    elif draft.type == "job" and draft.job_start_policy is None:
        errors.append(FieldError("job_start_policy", "required", "a job runs around deployments: say when"))
    elif draft.type == "job" and draft.job_start_policy == "":
        errors.append(
            FieldError(
                "job_start_policy",
                "invalid_choice",
                "must be 'beforeDeployment', 'afterSuccessDeployment' or 'afterFailedDeployment'",
            )
        )
    return errors
