"""Runtime settings, read once from the environment."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import msgspec

from controlplane.domain import spec, webhook_targets
from controlplane.domain.states import LogFormat, LogLevel, ResourceCategory

DEFAULT_STATE_DIR = Path(".procplane")
Number = TypeVar("Number", int, float)
Choice = TypeVar("Choice", bound=StrEnum)
# How long a write waits for a lock (SQLite's one write lock, a PostgreSQL row lock) before the
# request is answered 503. Writes hold them for milliseconds: five seconds rides out bursts.
DEFAULT_DATABASE_BUSY_TIMEOUT_SECONDS = 5.0
# An install id is written into a label value of every object the install owns: a DNS label keeps
# it valid there and in selectors.
_INSTALL_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class ResourceTypeSetting(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One machine size of the catalog as the operator declares it."""

    name: str
    category: ResourceCategory
    cpu_limit: int
    memory_limit: int


DEFAULT_RESOURCE_TYPES: tuple[ResourceTypeSetting, ...] = (
    ResourceTypeSetting(name="s1", category=ResourceCategory.STANDARD, cpu_limit=500, memory_limit=512),
    ResourceTypeSetting(name="s2", category=ResourceCategory.STANDARD, cpu_limit=1000, memory_limit=1024),
    ResourceTypeSetting(name="s3", category=ResourceCategory.STANDARD, cpu_limit=2000, memory_limit=2048),
    ResourceTypeSetting(name="s4", category=ResourceCategory.STANDARD, cpu_limit=4000, memory_limit=4096),
    ResourceTypeSetting(name="m2", category=ResourceCategory.MEMORY_OPTIMIZED, cpu_limit=1000, memory_limit=4096),
    ResourceTypeSetting(name="c2", category=ResourceCategory.CPU_OPTIMIZED, cpu_limit=2000, memory_limit=1024),
)


class SettingsError(ValueError):
    """An environment variable holds a value procplane cannot use."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    database_busy_timeout_seconds: float = DEFAULT_DATABASE_BUSY_TIMEOUT_SECONDS
    bootstrap_token: str | None = None
    max_processes_per_application: int = 20
    max_applications_per_team: int = 100
    max_instances_per_process: int = 50
    resource_types: tuple[ResourceTypeSetting, ...] = DEFAULT_RESOURCE_TYPES
    default_resource_type: str = "s1"
    cluster_domain: str = "cluster.local"
    kubeconfig: str | None = None
    ingress_class: str | None = None
    ingress_domain: str | None = None
    lease_namespace: str = "default"
    # Which install this is: every Kubernetes object procplane writes carries it as a label, and
    # the reconciler watches, caches and deletes only objects carrying its own, so two installs in
    # one cluster never touch each other's applications. The chart generates one per release.
    install_id: str = spec.DEFAULT_INSTALL_ID
    # How long a Deployment may take to become available before its release fails.
    progress_deadline_seconds: int = 600
    # Observing what runs: how often the reconciler looks at pods, how often it records a sample,
    # how long samples are kept (raw, then downsampled to hourly ones), the restart alert window
    # and how webhook deliveries are retried.
    observe_interval_seconds: float = 15.0
    sample_interval_seconds: int = 60
    sample_raw_retention_hours: int = 24
    sample_retention_days: int = 30
    restart_alert_window_seconds: int = 600
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_cap_seconds: float = 3600.0
    webhook_timeout_seconds: float = 10.0
    # Networks (CIDRs) webhooks may be sent to although they are not public: by default a webhook
    # reaches public addresses only, never loopback, link-local (cloud metadata) or private ones.
    webhook_allowed_networks: tuple[str, ...] = ()
    # Rate limits, counted in fixed windows of `rate_limit_window_seconds`: per API key, reads
    # (GET), writes (PATCH, PUT, DELETE and actions) and creations (POSTs that create something);
    # per client address and per presented token, failed authentications; per heartbeat token,
    # pings. On PostgreSQL the counters are shared by every API replica.
    rate_limits_enabled: bool = True
    rate_limit_window_seconds: int = 60
    rate_limit_reads: int = 400
    rate_limit_writes: int = 120
    rate_limit_creations: int = 60
    rate_limit_auth_failures: int = 20
    rate_limit_heartbeat_pings: int = 120
    # The keys of one team together get this many times one key's reads, writes and creations, so
    # a team cannot multiply its budget by making keys (operator keys belong to no team).
    rate_limit_team_factor: int = 4
    # Overload: requests one API process serves at once (beyond, 503 at once rather than a queue
    # that times out), and how long a request waits for a PostgreSQL connection before a 503.
    max_requests_in_flight: int = 64
    database_pool_size: int = 10
    database_pool_overflow: int = 10
    database_pool_timeout_seconds: float = 5.0
    # Logs: the format of every line (procplane's, the server's access log, migrations') and the
    # least severe level written.
    log_format: LogFormat = LogFormat.AUTO
    log_level: LogLevel = LogLevel.INFO

    def __post_init__(self) -> None:
        if not _INSTALL_ID.fullmatch(self.install_id):
            raise SettingsError(
                f"PROCPLANE_INSTALL_ID must be a DNS label (a-z, 0-9 and '-', at most 63), got {self.install_id!r}"
            )
        try:
            self.webhook_policy  # noqa: B018 - parsed here, so a bad network fails at start-up
        except ValueError as exc:
            raise SettingsError(f"PROCPLANE_WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc

    @property
    def webhook_policy(self) -> webhook_targets.Policy:
        return webhook_targets.policy_of(self.webhook_allowed_networks)


def _number(name: str, default: Number, parse: Callable[[str], Number], floor: Number, *, strict: bool) -> Number:
    """The environment variable `name` as a number of `parse`'s kind, at least `floor` (above it when
    `strict`), or `default` when unset."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {'an integer' if parse is int else 'a number'}, got {raw!r}") from exc
    if value < floor or (strict and value == floor):
        raise SettingsError(f"{name} must be {'above' if strict else 'at least'} {floor}, got {value}")
    return value


def _positive_int(name: str, default: int) -> int:
    return _number(name, default, int, 1, strict=False)


def _non_negative_int(name: str, default: int) -> int:
    return _number(name, default, int, 0, strict=False)


def _positive_float(name: str, default: float) -> float:
    return _number(name, default, float, 0, strict=True)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _resource_types() -> tuple[ResourceTypeSetting, ...]:
    """The catalog comes from PROCPLANE_RESOURCE_TYPES (JSON list) or a file named by
    PROCPLANE_RESOURCE_TYPES_FILE, so the Helm chart can mount it from values."""
    raw = os.environ.get("PROCPLANE_RESOURCE_TYPES")
    path = os.environ.get("PROCPLANE_RESOURCE_TYPES_FILE")
    if not raw and path:
        raw = Path(path).read_text()
    if not raw:
        return DEFAULT_RESOURCE_TYPES
    try:
        types = msgspec.json.decode(raw.encode(), type=tuple[ResourceTypeSetting, ...])
    except msgspec.ValidationError as exc:
        raise SettingsError(f"resource type catalog is invalid: {exc}") from exc
    names = [t.name for t in types]
    if not types or len(set(names)) != len(names):
        raise SettingsError("resource type catalog must be a non-empty list with unique names")
    for t in types:
        if t.cpu_limit < 1 or t.memory_limit < 1:
            raise SettingsError(f"resource type {t.name!r} needs positive cpu_limit and memory_limit")
    return types


def _choice(name: str, choices: type[Choice], default: Choice) -> Choice:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return choices(raw.lower())
    except ValueError as exc:
        allowed = ", ".join(choice.value for choice in choices)
        raise SettingsError(f"{name} must be one of {allowed}, got {raw!r}") from exc


def _list(name: str) -> tuple[str, ...]:
    """A list in one variable, its entries separated by commas or whitespace."""
    return tuple(item for item in os.environ.get(name, "").replace(",", " ").split() if item)


def default_database_url(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    return f"sqlite+aiosqlite:///{state_dir / 'procplane.db'}"


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs operators write and pick the async driver procplane ships."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def load_settings() -> Settings:
    resource_types = _resource_types()
    default_type = os.environ.get("PROCPLANE_DEFAULT_RESOURCE_TYPE", resource_types[0].name)
    if default_type not in {t.name for t in resource_types}:
        raise SettingsError(f"PROCPLANE_DEFAULT_RESOURCE_TYPE {default_type!r} is not in the catalog")
    return Settings(
        database_url=normalize_database_url(os.environ.get("PROCPLANE_DATABASE_URL") or default_database_url()),
        database_busy_timeout_seconds=_positive_float(
            "PROCPLANE_DATABASE_BUSY_TIMEOUT_SECONDS", DEFAULT_DATABASE_BUSY_TIMEOUT_SECONDS
        ),
        bootstrap_token=os.environ.get("PROCPLANE_BOOTSTRAP_TOKEN") or None,
        max_processes_per_application=_positive_int("PROCPLANE_MAX_PROCESSES_PER_APPLICATION", 20),
        max_applications_per_team=_positive_int("PROCPLANE_MAX_APPLICATIONS_PER_TEAM", 100),
        max_instances_per_process=_positive_int("PROCPLANE_MAX_INSTANCES_PER_PROCESS", 50),
        resource_types=resource_types,
        default_resource_type=default_type,
        cluster_domain=os.environ.get("PROCPLANE_CLUSTER_DOMAIN", "cluster.local"),
        kubeconfig=os.environ.get("PROCPLANE_KUBECONFIG") or os.environ.get("KUBECONFIG") or None,
        ingress_class=os.environ.get("PROCPLANE_INGRESS_CLASS") or None,
        ingress_domain=os.environ.get("PROCPLANE_INGRESS_DOMAIN") or None,
        lease_namespace=os.environ.get("PROCPLANE_LEASE_NAMESPACE", "default"),
        install_id=os.environ.get("PROCPLANE_INSTALL_ID") or spec.DEFAULT_INSTALL_ID,
        progress_deadline_seconds=_positive_int("PROCPLANE_PROGRESS_DEADLINE_SECONDS", 600),
        observe_interval_seconds=float(_positive_int("PROCPLANE_OBSERVE_INTERVAL_SECONDS", 15)),
        sample_interval_seconds=_positive_int("PROCPLANE_SAMPLE_INTERVAL_SECONDS", 60),
        sample_raw_retention_hours=_positive_int("PROCPLANE_SAMPLE_RAW_RETENTION_HOURS", 24),
        sample_retention_days=_positive_int("PROCPLANE_SAMPLE_RETENTION_DAYS", 30),
        restart_alert_window_seconds=_positive_int("PROCPLANE_RESTART_ALERT_WINDOW_SECONDS", 600),
        webhook_max_attempts=_positive_int("PROCPLANE_WEBHOOK_MAX_ATTEMPTS", 8),
        webhook_retry_base_seconds=float(_positive_int("PROCPLANE_WEBHOOK_RETRY_BASE_SECONDS", 5)),
        webhook_retry_cap_seconds=float(_positive_int("PROCPLANE_WEBHOOK_RETRY_CAP_SECONDS", 3600)),
        webhook_timeout_seconds=float(_positive_int("PROCPLANE_WEBHOOK_TIMEOUT_SECONDS", 10)),
        webhook_allowed_networks=_list("PROCPLANE_WEBHOOK_ALLOWED_NETWORKS"),
        rate_limits_enabled=_flag("PROCPLANE_RATE_LIMITS_ENABLED", True),
        rate_limit_window_seconds=_positive_int("PROCPLANE_RATE_LIMIT_WINDOW_SECONDS", 60),
        rate_limit_reads=_positive_int("PROCPLANE_RATE_LIMIT_READS", 400),
        rate_limit_writes=_positive_int("PROCPLANE_RATE_LIMIT_WRITES", 120),
        rate_limit_creations=_positive_int("PROCPLANE_RATE_LIMIT_CREATIONS", 60),
        rate_limit_auth_failures=_positive_int("PROCPLANE_RATE_LIMIT_AUTH_FAILURES", 20),
        rate_limit_heartbeat_pings=_positive_int("PROCPLANE_RATE_LIMIT_HEARTBEAT_PINGS", 120),
        rate_limit_team_factor=_positive_int("PROCPLANE_RATE_LIMIT_TEAM_FACTOR", 4),
        max_requests_in_flight=_positive_int("PROCPLANE_MAX_REQUESTS_IN_FLIGHT", 64),
        database_pool_size=_positive_int("PROCPLANE_DATABASE_POOL_SIZE", 10),
        database_pool_overflow=_non_negative_int("PROCPLANE_DATABASE_POOL_OVERFLOW", 10),
        database_pool_timeout_seconds=_positive_float("PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS", 5.0),
        log_format=_choice("PROCPLANE_LOG_FORMAT", LogFormat, LogFormat.AUTO),
        log_level=_choice("PROCPLANE_LOG_LEVEL", LogLevel, LogLevel.INFO),
    )


def local_kubeconfig(settings: Settings, state_dir: Path = DEFAULT_STATE_DIR) -> str | None:
    """The configured kubeconfig; else the local cluster's (`make cluster`), the embedded default;
    else None, meaning the in-cluster service account."""
    if settings.kubeconfig:
        return settings.kubeconfig
    local = state_dir / "cluster" / "kubeconfig"
    return str(local) if local.exists() else None


def describe(settings: Settings) -> str:
    """A loggable summary: never includes the bootstrap token or database credentials."""
    url = settings.database_url
    if "@" in url:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return json.dumps({"database": url, "resource_types": [t.name for t in settings.resource_types]})
