"""Pods to instance records, and metrics.k8s.io usage to numbers (pure).

An instance of a process is one of its pods. Its record says where it runs, what state it is in
(the first container that is not running decides), how often it restarted, why and how its
last run ended, and how much CPU and memory it uses, in absolute terms and as a share of the
process's limits, when the cluster's metrics API reports it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from controlplane.domain import observing

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
}


def parse_quantity(value: str) -> Decimal:
    """A Kubernetes resource quantity ("250m", "1.5", "128Mi", "12345n") as a number."""
    match = _QUANTITY.match(value.strip())
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a resource quantity: {value!r}")
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation as exc:
        raise ValueError(f"not a resource quantity: {value!r}") from exc


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def pod_usage(pod_metrics: Mapping[str, Any]) -> observing.Usage | None:
    """A `metrics.k8s.io/v1beta1` PodMetrics object summed over its containers."""
    containers = pod_metrics.get("containers")
    if not isinstance(containers, list) or not containers:
        return None
    cpu = Decimal(0)
    memory = Decimal(0)
    try:
        for container in containers:
            usage = container.get("usage") or {}
            cpu += parse_quantity(str(usage.get("cpu", "0")))
            memory += parse_quantity(str(usage.get("memory", "0")))
    except ValueError:
        return None
    return observing.Usage(cpu_millicores=float(round(cpu * 1000, 3)), memory_bytes=int(memory))


def usage_by_pod(pod_metrics_list: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], observing.Usage]:
    """(namespace, pod name) -> usage, from the items of a PodMetricsList."""
    found: dict[tuple[str, str], observing.Usage] = {}
    for item in pod_metrics_list:
        metadata = item.get("metadata") or {}
        usage = pod_usage(item)
        if usage is not None and metadata.get("name"):
            found[(str(metadata.get("namespace", "")), str(metadata["name"]))] = usage
    return found


def percent(used: float, limit: float) -> float | None:
    return round(100.0 * used / limit, 2) if limit > 0 else None


def _container_state(status: Mapping[str, Any]) -> tuple[str, str | None]:
    state = status.get("state") or {}
    for kind in ("waiting", "terminated"):
        if kind in state:
            return kind, (state[kind] or {}).get("reason")
    if "running" in state:
        return "running", None
    return "waiting", None


def from_pod(
    pod: Mapping[str, Any], usage: observing.Usage | None = None, limits: observing.Limits | None = None
) -> observing.Instance:
    """The instance record of one pod (raw JSON as the apiserver serves it)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    containers = [c for c in status.get("containerStatuses") or [] if isinstance(c, Mapping)]
    phase = str(status.get("phase") or "Pending")
    if metadata.get("deletionTimestamp"):
        state, reason = "terminating", None
    elif not containers:
        state, reason = ("pending" if phase == "Pending" else phase.lower()), status.get("reason")
    else:
        states = [_container_state(c) for c in containers]
        state, reason = next((s for s in states if s[0] != "running"), states[0])
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    last_reason: str | None = None
    last_code: int | None = None
    last_at: datetime | None = None
    for container in containers:
        for terminated in (
            (container.get("state") or {}).get("terminated"),
            (container.get("lastState") or {}).get("terminated"),
        ):
            if not isinstance(terminated, Mapping):
                continue
            finished = parse_time(terminated.get("finishedAt"))
            if last_at is None or (finished is not None and finished > last_at):
                last_reason = terminated.get("reason")
                code = terminated.get("exitCode")
                last_code = code if isinstance(code, int) else None
                last_at = finished
    running_since = [
        parse_time((c.get("state") or {}).get("running", {}).get("startedAt"))
        for c in containers
        if "running" in (c.get("state") or {})
    ]
    started = min((t for t in running_since if t is not None), default=None) or parse_time(status.get("startTime"))
    spec_containers = spec.get("containers") or []
    image = containers[0].get("image") if containers else (spec_containers[0].get("image") if spec_containers else None)
    instance = observing.Instance(
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        namespace=str(metadata.get("namespace", "")),
        node=spec.get("nodeName") or None,
        phase=phase,
        state=state,
        state_reason=reason,
        ready=ready,
        restarts=sum(int(c.get("restartCount") or 0) for c in containers),
        image=image,
        started_at=started,
        last_termination_reason=last_reason,
        last_exit_code=last_code,
        last_terminated_at=last_at,
        created_at=parse_time(metadata.get("creationTimestamp")),
    )
    if usage is None:
        return instance
    return msgspec.structs.replace(
        instance,
        cpu_millicores=usage.cpu_millicores,
        memory_bytes=usage.memory_bytes,
        cpu_pct=percent(usage.cpu_millicores, limits.cpu_millicores) if limits else None,
        memory_pct=percent(usage.memory_bytes, limits.memory_bytes) if limits else None,
    )


def restarts_between(
    before: Mapping[str, tuple[str, int]], now: Sequence[observing.Instance]
) -> list[observing.Restart]:
    """Restarts that happened between two observations. `before` maps an instance name to the
    (uid, restart count) seen last time; a new pod counts its restarts from zero."""
    found = []
    for instance in now:
        uid, count = before.get(instance.name, (instance.uid, 0))
        previous = count if uid == instance.uid else 0
        if instance.restarts > previous:
            found.append(
                observing.Restart(
                    instance=instance.name,
                    count=instance.restarts - previous,
                    reason=instance.last_termination_reason,
                    exit_code=instance.last_exit_code,
                )
            )
    return found


def aggregate(instances: Sequence[observing.Instance], limits: observing.Limits | None) -> observing.Aggregate:
    """Count what runs (terminating and finished pods are not instances any more) and sum usage.
    Percentages are of the limits of every counted instance together, as a host's share is."""
    live = [i for i in instances if i.state != "terminating" and i.phase not in ("Succeeded", "Failed")]
    measured = [i for i in live if i.cpu_millicores is not None]
    cpu = round(sum(i.cpu_millicores or 0.0 for i in measured), 3) if measured else None
    memory = sum(i.memory_bytes or 0 for i in measured) if measured else None
    starts = [int(i.started_at.timestamp()) for i in live if i.started_at is not None]
    return observing.Aggregate(
        count=len(live),
        ready_count=sum(1 for i in live if i.ready),
        restarts=sum(i.restarts for i in live),
        cpu_millicores=cpu,
        memory_bytes=memory,
        cpu_pct=percent(cpu, limits.cpu_millicores * len(measured)) if cpu is not None and limits else None,
        memory_pct=percent(memory, limits.memory_bytes * len(measured)) if memory is not None and limits else None,
        oldest_start_unix=min(starts) if starts else None,
    )
