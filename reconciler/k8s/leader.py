"""Leader election on a `coordination.k8s.io` Lease, so only one reconciler replica writes.

Expiry is judged by how long *this* replica has seen the lease unchanged, not by comparing the
holder's renewTime with our clock, so clock skew between nodes cannot hand out two leases."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controlplane.domain import clock
from reconciler.k8s import errors
from reconciler.k8s.client import Kube

logger = logging.getLogger("procplane.leader")


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        identity: str,
        *,
        name: str = "procplane-reconciler",
        lease_seconds: float = 15.0,
        renew_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        # The wall clock stamped into acquireTime/renewTime; injectable like `monotonic`, for tests.
        wall_clock: Callable[[], datetime] = clock.utcnow,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.identity = identity
        self.name = name
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._leader_until = 0.0
        self._observed: tuple[Any, Any] | None = None
        self._observed_at = 0.0

    def is_leader(self) -> bool:
        """True while our last successful renewal is recent enough that no one else can have
        taken the lease (they must see it unchanged for a whole lease duration first)."""
        return self._monotonic() < self._leader_until

    def _lease(self, spec: dict[str, Any], resource_version: str | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def _won(self, started: float) -> bool:
        # Count from before the request: the lease may have been renewed at any moment after it.
        self._leader_until = started + self.lease_seconds - self.renew_seconds / 2
        return True

    def try_acquire_or_renew(self) -> bool:
        started = self._monotonic()
        now = _micro_time(self._wall_clock())
        try:
            lease = self.kube.get("Lease", self.namespace, self.name)
            if lease is None:
                fresh = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_seconds),
                        "acquireTime": now, "renewTime": now, "leaseTransitions": 0}  # fmt: skip
                self.kube.create(self._lease(fresh))
                logger.info("%s acquired the lease %s/%s", self.identity, self.namespace, self.name)
                return self._won(started)
            spec: dict[str, Any] = dict(lease.get("spec") or {})
            holder = spec.get("holderIdentity")
            observed = (holder, spec.get("renewTime"))
            if observed != self._observed:
                self._observed, self._observed_at = observed, started
            resource_version = lease["metadata"]["resourceVersion"]
            if holder == self.identity:
                spec["renewTime"] = now
                self.kube.replace(self._lease(spec, resource_version))
                return self._won(started)
            if holder and started - self._observed_at < self.lease_seconds:
                self._leader_until = 0.0
                return False
            spec.update(holderIdentity=self.identity, acquireTime=now, renewTime=now,
                        leaseDurationSeconds=int(self.lease_seconds),
                        leaseTransitions=int(spec.get("leaseTransitions") or 0) + 1)  # fmt: skip
            self.kube.replace(self._lease(spec, resource_version))
            logger.info("%s took over the lease %s/%s from %s", self.identity, self.namespace, self.name, holder)
            return self._won(started)
        except (errors.Conflict, errors.TemporaryError) as exc:
            logger.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return self.is_leader()

    def release(self) -> None:
        """Hand the lease over at once on a clean shutdown instead of making the next replica wait."""
        if not self.is_leader():
            return
        self._leader_until = 0.0
        try:
            lease = self.kube.get("Lease", self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = dict(lease["spec"], holderIdentity=None, leaseDurationSeconds=1)
            self.kube.replace(self._lease(spec, lease["metadata"]["resourceVersion"]))
        except errors.ReconcileError as exc:
            logger.warning("could not release the lease: %s", exc)
