"""procplane's app over real HTTP: served by uvicorn on a free loopback port, in a thread, as in
production (one worker, one event loop), for the tests that need a server rather than the test
client (parallel requests, a fuzzer)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings
from controlplane.domain.states import LogLevel
from procplane import logs


class LiveServer:
    def __init__(self, settings: Settings, *, backlog: int = 2048, access_log: bool = False) -> None:
        """`access_log`: log as `procplane api` does (every request's access line, through the
        handlers `procplane.logs` configures) instead of warnings only."""
        self.settings = settings
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        logging = logs.uvicorn_options(LogLevel.INFO) if access_log else {"log_level": "warning"}
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, backlog=backlog, **logging)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="procplane-live", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
