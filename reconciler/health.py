"""The reconciler's probes and metrics on a port of its own: `/healthz` (the reconciler's event
loop is alive), `/readyz` (it can do its job: a standby, its first lease attempt over, waits for
the lease; a leader has synced its caches) and `/metrics` (every metric of the process).

The server runs in threads of its own, apart from the event loop it judges: a loop that stopped
turning cannot answer for itself, so the loop leaves a heartbeat (`beat`, every second) and
`/healthz` fails once the last one is older than `stale_after_seconds`."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, generate_latest

logger = logging.getLogger("procplane.reconciler")

BEAT_SECONDS = 1.0
# Far above a beat, so a busy moment (a large pass, a slow garbage collection) is not taken for
# a dead loop; far below the kubelet's patience, so a wedged reconciler is restarted.
STALE_AFTER_SECONDS = 30.0


class LeaseState(StrEnum):
    UNKNOWN = "unknown"  # no lease attempt has finished yet
    STANDBY = "standby"  # another replica leads; this one waits to take over
    LEADING = "leading"


class Health:
    """What the probes read. The event loop writes it; the server's threads read it (single
    attribute reads and writes, which need no lock)."""

    def __init__(self, stale_after_seconds: float = STALE_AFTER_SECONDS) -> None:
        self.stale_after_seconds = stale_after_seconds
        self.lease = LeaseState.UNKNOWN
        # The kinds whose cache has not synced yet: set by a leader for its term.
        self.unsynced: Callable[[], list[str]] = list
        self._last_beat: float | None = None

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def stopped(self) -> None:
        self._last_beat = None
        self.lease = LeaseState.UNKNOWN

    async def beat_forever(self) -> None:
        """Runs on the reconciler's loop while the reconciler runs."""
        try:
            while True:
                self.beat()
                await asyncio.sleep(BEAT_SECONDS)
        finally:
            self.stopped()

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        if self._last_beat is None:
            return False, {"status": "not_running"}
        age = time.monotonic() - self._last_beat
        alive = age < self.stale_after_seconds
        return alive, {"status": "ok" if alive else "stalled", "last_beat_seconds_ago": round(age, 1)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        alive, _ = self.liveness()
        unsynced = self.unsynced() if self.lease is LeaseState.LEADING else []
        ready = alive and (
            self.lease is LeaseState.STANDBY or (self.lease is LeaseState.LEADING and not unsynced)
        )  # fmt: skip
        body: dict[str, Any] = {"status": "ok" if ready else "not_ready", "lease": self.lease.value}
        if self.lease is LeaseState.LEADING:
            body["caches_synced"] = not unsynced
            body["unsynced_kinds"] = unsynced
        return ready, body


class _Handler(BaseHTTPRequestHandler):
    health: Health  # set on the subclass each server makes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_PLAIN_0_0_4)
            return
        if path in ("/healthz", "/readyz"):
            ok, body = self.health.liveness() if path == "/healthz" else self.health.readiness()
            self._answer(200 if ok else 503, json.dumps(body).encode(), "application/json")
            return
        self._answer(404, b'{"status": "not_found"}', "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes and scrapes arrive every few seconds; a line each would drown the log.
        return


class HealthServer:
    """`/healthz`, `/readyz` and `/metrics` on `host:port` (port 0: any free port, see `port`)."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        handler = type("HealthHandler", (_Handler,), {"health": health})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="reconciler-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        logger.info("reconciler health and metrics on port %d (/healthz, /readyz, /metrics)", self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
