"""The only module that talks to the Kubernetes API.

Requests go through the official client's transport (auth, TLS, kubeconfig handling) but bodies
are raw JSON in and out: no generated-model (de)serialization on the hot path. Every write is a
server-side apply with field manager `procplane`. Retries: 429 honours Retry-After, 5xx and lost
connections back off exponentially; 409 and 410 surface as typed errors for the caller to re-read
or re-list.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from prometheus_client import Counter, Histogram

from reconciler.k8s import errors

logger = logging.getLogger("procplane.kube")

FIELD_MANAGER = "procplane"
APPLY_PATCH = "application/apply-patch+yaml"

# Every attempt, retries included, by verb and the apiserver's status code ("error" when no answer
# came: a lost connection, a timeout).
APISERVER_REQUESTS = Counter(
    "procplane_apiserver_requests_total", "Requests sent to the Kubernetes apiserver, by verb and status code.",
    ["verb", "code"],
)  # fmt: skip
APISERVER_DURATION = Histogram(
    "procplane_apiserver_request_duration_seconds",
    "Time the Kubernetes apiserver took to answer (to start streaming, for a watch), by verb.",
    ["verb"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        path = self.base
        if self.namespaced and namespace:
            path += f"/namespaces/{quote(namespace)}"
        path += f"/{self.plural}"
        if name:
            path += f"/{quote(name)}"
        if subresource:
            path += f"/{subresource}"
        return path


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("v1", "Namespace", "namespaces", False),
        Kind("v1", "Secret", "secrets", True),
        Kind("v1", "Service", "services", True),
        Kind("v1", "Pod", "pods", True),
        Kind("apps/v1", "Deployment", "deployments", True),
        Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True),
        Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
        Kind("networking.k8s.io/v1", "Ingress", "ingresses", True),
        Kind("batch/v1", "CronJob", "cronjobs", True),
        Kind("batch/v1", "Job", "jobs", True),
        Kind("coordination.k8s.io/v1", "Lease", "leases", True),
        Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
        Kind("procplane.dev/v1alpha1", "Application", "applications", False),
        Kind("procplane.dev/v1alpha1", "Process", "processes", True),
        # Read by the observer: node routing, and pod usage from the cluster's metrics API.
        Kind("v1", "Node", "nodes", False),
        Kind("metrics.k8s.io/v1beta1", "PodMetrics", "pods", True),
    )
}


def kind_of(manifest: dict[str, Any]) -> Kind:
    return KINDS[manifest["kind"]]


def object_key(manifest: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name): how the reconciler names an object across caches and passes."""
    metadata = manifest["metadata"]
    return manifest["kind"], metadata.get("namespace", ""), metadata["name"]


class RequestCounter:
    """Requests sent, by verb: what benchmarks and the zero-write test read."""

    WRITE_VERBS = frozenset({"apply", "create", "update", "delete"})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, verb: str) -> None:
        with self._lock:
            self.counts[verb] += 1

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for verb, n in self.counts.items() if verb in self.WRITE_VERBS)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def _status_message(body: bytes) -> str:
    try:
        status = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:500]
    return str(status.get("message") or status.get("reason") or body[:500])


def _failure(method: str, path: str, response: Any) -> errors.ReconcileError:
    """The typed error for a refused request: 429 and 5xx are worth retrying, the rest are not."""
    message = _status_message(response.read())
    status = response.status
    if status == 429 or status >= 500:
        retry_after = float(response.getheader("Retry-After") or 0) or None
        return errors.TemporaryError(f"{method} {path}: {status} {message}", retry_after)
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return errors.Conflict(f"{method} {path}: {message}")
    if status == 410:
        return errors.Gone(message)
    return errors.PermanentError(f"{method} {path}: {message}", status)


class Kube:
    """Raw-JSON Kubernetes access with retries. `write_allowed` is consulted before every write, so
    a replica that lost its lease cannot write even from a pass already under way."""

    def __init__(
        self,
        api_client: Any,
        *,
        max_attempts: int = 6,
        timeout: float = 30.0,
        write_allowed: Callable[[], bool] = lambda: True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api_client
        self._max_attempts = max_attempts
        self._timeout = timeout
        self._sleep = sleep
        self.write_allowed = write_allowed
        self.requests = RequestCounter()

    def sibling(self, *, max_attempts: int = 2, timeout: float = 10.0) -> Kube:
        """A client on the same connection with its own request counter and a shorter retry
        policy, for readers (the observer) whose requests must not count as reconcile traffic."""
        return Kube(self._api, max_attempts=max_attempts, timeout=timeout, sleep=self._sleep)

    # ---- transport ----

    def _send(
        self,
        verb: str,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> Any:
        if verb in RequestCounter.WRITE_VERBS and not self.write_allowed():
            raise errors.NotLeader(f"refusing to {verb} {path}: this replica does not hold the lease")
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        delay = 0.2
        for attempt in range(1, self._max_attempts + 1):
            self.requests.add(verb)
            method_, url, header_params, body_, _ = self._api.param_serialize(
                method, path, query_params=query or [], header_params=dict(headers), body=body,
                auth_settings=["BearerToken"],
            )  # fmt: skip
            failure: errors.ReconcileError
            sent = time.perf_counter()
            try:
                response = self._api.rest_client.request(
                    method_, url, headers=header_params, body=body_, _request_timeout=timeout or self._timeout
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                APISERVER_REQUESTS.labels(verb, "error").inc()
                failure = errors.TemporaryError(f"{method} {path}: {exc}")
            else:
                APISERVER_REQUESTS.labels(verb, str(response.status)).inc()
                APISERVER_DURATION.labels(verb).observe(time.perf_counter() - sent)
                if response.status < 400:
                    return response if stream else json.loads(response.read() or b"{}")
                failure = _failure(method, path, response)
            # A Conflict is temporary too, but only re-reading helps it: the caller's job.
            if type(failure) is not errors.TemporaryError or attempt == self._max_attempts:
                raise failure
            self._sleep(failure.retry_after or delay + random.uniform(0, delay))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ---- reads ----

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._send("get", "GET", KINDS[kind].path(namespace, name))
        except NotFoundError:
            return None
        return result

    def served_resources(self, api_version: str) -> set[str]:
        """The resources (plurals) the apiserver serves in `api_version`; none when it serves no
        such group version. Discovery, which every authenticated client may read."""
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            result = self._send("get", "GET", base)
        except NotFoundError:
            return set()
        return {str(r["name"]) for r in result.get("resources") or [] if "/" not in str(r["name"])}

    def list(
        self, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Items (with kind and apiVersion filled in, which lists omit) and the list's resourceVersion."""
        query = [("labelSelector", label_selector)] if label_selector else []
        result = self._send("list", "GET", KINDS[kind].path(namespace), query=query)
        info = KINDS[kind]
        items = result.get("items") or []
        for item in items:
            item.setdefault("kind", info.kind)
            item.setdefault("apiVersion", info.api_version)
        return items, str(result["metadata"].get("resourceVersion", ""))

    def watch(
        self,
        kind: str,
        resource_version: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[dict[str, Any]]:
        """Watch events from `resource_version` on, bookmarks included, until the server closes the
        stream. An expired resourceVersion raises `Gone`: the caller lists again."""
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        response = self._send(
            "watch", "GET", KINDS[kind].path(namespace), query=query, timeout=timeout_seconds + 30, stream=True
        )
        try:
            buffer = b""
            for chunk in response.response.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object", {})
                        if status.get("code") == 410:
                            raise errors.Gone(str(status.get("message")))
                        raise errors.TemporaryError(f"watch {kind}: {status.get('message')}")
                    yield event
        finally:
            response.response.release_conn()

    # ---- writes ----

    def apply(self, manifest: dict[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        """Server-side apply; `force` because procplane is the one owner of what it declares."""
        info = kind_of(manifest)
        metadata = manifest["metadata"]
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        result: dict[str, Any] = self._send(
            "apply",
            "PATCH",
            info.path(metadata.get("namespace"), metadata["name"], subresource),
            query=query,
            body=manifest,
            content_type=APPLY_PATCH,
        )
        return result

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        info = kind_of(manifest)
        result: dict[str, Any] = self._send(
            "create", "POST", info.path(manifest["metadata"].get("namespace")), body=manifest,
            query=[("fieldManager", FIELD_MANAGER)], content_type="application/json",
        )  # fmt: skip
        return result

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """PUT with the manifest's resourceVersion: optimistic concurrency (a Lease renewal)."""
        info = kind_of(manifest)
        metadata = manifest["metadata"]
        result: dict[str, Any] = self._send(
            "update", "PUT", info.path(metadata.get("namespace"), metadata["name"]), body=manifest,
            query=[("fieldManager", FIELD_MANAGER)], content_type="application/json",
        )  # fmt: skip
        return result

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete with background propagation: the garbage collector removes the children."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            self._send(
                "delete", "DELETE", KINDS[kind].path(namespace, name), body=body, content_type="application/json"
            )
        except NotFoundError:
            return False
        return True


class NotFoundError(errors.ReconcileError):
    """404 from the apiserver; `get` and `delete` turn it into None / False."""


def new_api_client(kubeconfig: str | None) -> Any:
    """The official client's ApiClient from a kubeconfig file, or in-cluster credentials."""
    from kubernetes import config

    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    from kubernetes import client

    return client.ApiClient()
