"""Every kind and state procplane names, once: the API decodes them, the store keeps their values,
the reconciler compares against them."""

from __future__ import annotations

from enum import StrEnum


class ProcessType(StrEnum):
    WEB = "web"
    WORKER = "worker"
    CRON = "cron"
    JOB = "job"


class IngressProtocol(StrEnum):
    HTTP = "http"
    GRPC = "grpc"


class JobStartPolicy(StrEnum):
    """When a job process runs, relative to a deployment."""

    BEFORE_DEPLOYMENT = "beforeDeployment"
    AFTER_SUCCESS_DEPLOYMENT = "afterSuccessDeployment"
    AFTER_FAILED_DEPLOYMENT = "afterFailedDeployment"


class Role(StrEnum):
    """What an API key may do. Admin, deployer and viewer keys belong to one team; an operator
    key belongs to none and spans every team (the platform's own key, e.g. the bootstrap token)."""

    ADMIN = "admin"
    DEPLOYER = "deployer"
    VIEWER = "viewer"
    OPERATOR = "operator"


WRITE_ROLES = frozenset({Role.ADMIN, Role.DEPLOYER, Role.OPERATOR})
# The roles that manage API keys: an admin those of its team, an operator every key.
KEY_MANAGER_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})


class ProcessStatus(StrEnum):
    """What a process's `status` says: computed by the reconciler from what runs, and shown as
    `alerting` when it is up but an alert rule fires."""

    PAUSED = "paused"
    PENDING = "pending"
    DOWN = "down"
    ALERTING = "alerting"
    UP = "up"


class HeartbeatStatus(StrEnum):
    """A heartbeat (a dead-man's switch): pinged in time, overdue, or pinged again after being
    overdue."""

    ALIVE = "ALIVE"
    DEAD = "DEAD"
    RESURRECTED = "RESURRECTED"


class ReleaseStatus(StrEnum):
    """A deployment's steps, in order, then how it ended."""

    PENDING = "pending"
    RUNNING_PRE_JOBS = "running_pre_jobs"
    ROLLING_OUT = "rolling_out"
    RUNNING_POST_JOBS = "running_post_jobs"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# At most one release per application is in one of these at a time (a partial unique index).
ACTIVE_RELEASE_STATUSES = (
    ReleaseStatus.PENDING,
    ReleaseStatus.RUNNING_PRE_JOBS,
    ReleaseStatus.ROLLING_OUT,
    ReleaseStatus.RUNNING_POST_JOBS,
)


class ResourceCategory(StrEnum):
    """Sevalla's machine-size families."""

    HOBBY = "hobby"
    STANDARD = "standard"
    CPU_OPTIMIZED = "cpuOptimized"
    MEMORY_OPTIMIZED = "memoryOptimized"


class RateLimitScope(StrEnum):
    """What a rate limit counts. An API key has a budget for each of reads, writes and creations;
    failed authentications are counted per client address and per presented token, heartbeat
    pings per heartbeat token."""

    READS = "reads"
    WRITES = "writes"
    CREATIONS = "creations"
    AUTH_FAILURES = "auth_failures"
    HEARTBEAT_PINGS = "heartbeat_pings"


class LogFormat(StrEnum):
    """How log lines are written: JSON (one object a line, for collectors), readable text, or
    `auto`: text when stderr is a terminal, JSON otherwise."""

    AUTO = "auto"
    JSON = "json"
    TEXT = "text"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
