"""How the Kubernetes client layer answers faults. The real apiserver cannot be made to answer
429 or 503 on demand, so these run against a named fake: `FaultyApiserver`, a loopback HTTP
server that replays a script of status codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from reconciler.k8s import errors
from reconciler.k8s.client import Kube

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "ns"}}


class FaultyApiserver:
    """Fake: answers each request with the next (status, headers) of its script, then 200."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers = owner.script.pop(0) if owner.script else (200, {})
                failure = {"kind": "Status", "code": status, "message": f"scripted {status}"}
                body = json.dumps(failure if status >= 400 else SECRET).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PATCH = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def apiserver() -> Iterator[FaultyApiserver]:
    server = FaultyApiserver()
    yield server
    server.server.shutdown()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def kube(apiserver: FaultyApiserver, slept: list[float]) -> Kube:
    configuration = client.Configuration()
    configuration.host = apiserver.url
    return Kube(client.ApiClient(configuration), max_attempts=4, sleep=slept.append)


def test_429_waits_as_long_as_retry_after_says(apiserver: FaultyApiserver, kube: Kube, slept: list[float]) -> None:
    apiserver.script = [(429, {"Retry-After": "3"}), (429, {"Retry-After": "1"})]
    assert kube.apply(SECRET) == SECRET
    assert slept == [3.0, 1.0]
    assert len(apiserver.requests) == 3


def test_5xx_backs_off_exponentially_then_gives_up(apiserver: FaultyApiserver, kube: Kube, slept: list[float]) -> None:
    apiserver.script = [(503, {})] * 4
    with pytest.raises(errors.TemporaryError, match="503"):
        kube.apply(SECRET)
    assert len(slept) == 3
    # Each delay is its base plus up to as much jitter, and the bases double.
    for delay, base in zip(slept, (0.2, 0.4, 0.8), strict=True):
        assert base <= delay <= 2 * base


def test_conflict_gone_and_refusals_are_typed_and_not_retried(apiserver: FaultyApiserver, kube: Kube) -> None:
    manifest = SECRET
    for status, error in ((409, errors.Conflict), (410, errors.Gone), (422, errors.PermanentError)):
        apiserver.requests.clear()
        apiserver.script = [(status, {})]
        with pytest.raises(error):
            kube.apply(manifest)
        assert len(apiserver.requests) == 1
    apiserver.script = [(404, {})]
    assert kube.get("Secret", "ns", "x") is None


def test_no_write_leaves_a_replica_without_the_lease(apiserver: FaultyApiserver, kube: Kube) -> None:
    kube.write_allowed = lambda: False
    with pytest.raises(errors.NotLeader):
        kube.apply(SECRET)
    assert apiserver.requests == []
    assert kube.get("Secret", "ns", "x") is not None  # reads stay allowed
