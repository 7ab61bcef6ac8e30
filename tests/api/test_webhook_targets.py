"""Webhook targets over HTTP and at delivery: a webhook URL that reaches loopback, link-local,
private or other non-public addresses is refused when it is set (`forbidden_target`), and again
when a delivery is due, after resolving the name anew; the operator's allowed networks let
private receivers through. Deliveries here go to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from controlplane.api.app import create_app
from controlplane.domain import observing, webhook_targets
from controlplane.domain.settings import Settings
from controlplane.store import db
from controlplane.store.observations import Observations
from reconciler.observe import webhooks
from tests.api.conftest import Api, assert_problem
from tests.support.fake_dns import fake_failing_resolver, fake_resolver
from tests.support.localcluster import certs

NOW = datetime.now(UTC).replace(microsecond=0)
LOOPBACK = ("127.0.0.0/8", "::1/128")
NAMES = itertools.count()


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request, answers `status`."""

    def __init__(
        self, status: int = 204, headers: dict[str, str] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def client_of(settings: Settings, resolver: webhook_targets.Resolver = webhook_targets.system_resolver) -> Api:
    return Api(TestClient(create_app(settings, webhook_resolver=resolver)))


def allowing(settings: Settings, *cidrs: str) -> Settings:
    return msgspec.structs.replace(settings, webhook_allowed_networks=cidrs)


def new_process(api: Api, name: str = "hooked") -> dict[str, Any]:
    app_id = api.create_app(name)["id"]
    return api.create_process(app_id, key="worker", type="worker", entrypoint="run")


def rules_path(process: dict[str, Any]) -> str:
    return f"/v1/applications/{process['app_id']}/processes/{process['id']}/alert-rules"


def deliveries(api: Api, process: dict[str, Any]) -> list[dict[str, Any]]:
    path = f"/v1/applications/{process['app_id']}/processes/{process['id']}/webhook-deliveries"
    found: list[dict[str, Any]] = api.get(path).json()["data"]
    return found


def assert_forbidden(response: Any, message_part: str = "") -> None:
    problem = assert_problem(response, 400, "validation_failed", "webhook_url")
    error = next(e for e in problem["errors"] if e["field"] == "webhook_url")
    assert error["code"] == "forbidden_target", problem
    assert message_part in error["message"]


# ---- when the URL is set ----

FORBIDDEN = [
    "http://127.0.0.1/hooks",
    "http://127.0.0.1:8080/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "https://172.16.3.4/",
    "https://192.168.0.10/x",
    "http://100.64.0.1/",
    "http://0.0.0.0:9000/",
    "http://224.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://localhost/",
    "http://localhost:8000/hooks",
    "https://hooks.example.com@127.0.0.1/",
    "https://user:password@hooks.example.com/",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_a_forbidden_target_is_refused_when_the_rules_are_created(module_api: Api, url: str) -> None:
    process = new_process(module_api, f"create-{next(NAMES)}")
    assert_forbidden(module_api.patch(rules_path(process), json={"webhook_url": url, "alert_on_restart": True}))
    rules = module_api.get(rules_path(process)).json()
    assert (rules["webhook_url"], rules["alert_on_restart"], rules["updated_at"]) == (None, False, None)


@pytest.mark.parametrize("url", FORBIDDEN)
def test_a_forbidden_target_is_refused_when_the_rules_are_updated(module_api: Api, url: str) -> None:
    process = new_process(module_api, f"update-{next(NAMES)}")
    good = "https://hooks.example/procplane"
    assert module_api.patch(rules_path(process), json={"webhook_url": good}).status_code == 200
    assert_forbidden(module_api.patch(rules_path(process), json={"webhook_url": url, "cpu_threshold_pct": 90}))
    rules = module_api.get(rules_path(process)).json()
    assert (rules["webhook_url"], rules["cpu_threshold_pct"]) == (good, 50.0)


def test_the_refusal_says_why(api: Api) -> None:
    process = new_process(api)
    response = api.patch(rules_path(process), json={"webhook_url": "http://169.254.169.254/latest/meta-data/"})
    assert_forbidden(response, "169.254.169.254 is a link-local address")
    assert "webhook_url: 169.254.169.254 is a link-local address" in response.json()["message"]
    assert_forbidden(api.patch(rules_path(process), json={"webhook_url": "http://0x7f.1/"}), "0x7f.1 is 127.0.0.1")
    assert_forbidden(
        api.patch(rules_path(process), json={"webhook_url": "https://a@hooks.example/"}), "user name or password"
    )


def test_a_name_is_refused_when_it_resolves_to_a_private_address(settings: Settings) -> None:
    with client_of(settings, fake_resolver("93.184.215.14", "10.20.30.40")).client as client:
        api = Api(client)
        process = new_process(api)
        response = api.patch(rules_path(process), json={"webhook_url": "https://hooks.internal.example/x"})
        assert_forbidden(response, "hooks.internal.example resolves to 10.20.30.40, a private address")
        assert api.get(rules_path(process)).json()["webhook_url"] is None


def test_a_name_that_resolves_to_public_addresses_or_not_at_all_is_accepted(settings: Settings) -> None:
    url = "https://hooks.example.com/procplane"
    for resolver in (fake_resolver("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"), fake_failing_resolver):
        with client_of(settings, resolver).client as client:
            api = Api(client)
            process = new_process(api, f"ok-{next(NAMES)}")
            response = api.patch(rules_path(process), json={"webhook_url": url})
            assert response.status_code == 200, response.text
            assert response.json()["webhook_url"] == url


def test_the_operator_allows_private_networks(settings: Settings) -> None:
    with client_of(allowing(settings, "127.0.0.0/8", "10.1.0.0/16"), fake_resolver("10.1.2.3")).client as client:
        api = Api(client)
        process = new_process(api)
        for url in ("http://127.0.0.1:8080/hooks", "http://2130706433/", "http://10.1.9.9/", "https://hooks.lan/"):
            response = api.patch(rules_path(process), json={"webhook_url": url})
            assert response.status_code == 200, response.text
            assert response.json()["webhook_url"] == url
        # Only the networks allowed: the metadata endpoint, another private network and ::1 stay refused.
        for url in ("http://169.254.169.254/", "http://10.2.0.1/", "http://[::1]/", "http://localhost/"):
            assert_forbidden(api.patch(rules_path(process), json={"webhook_url": url}))
        assert_forbidden(api.patch(rules_path(process), json={"webhook_url": "http://u:p@10.1.2.3/"}))


# ---- when a delivery is due ----


def run_deliveries(settings: Settings, resolver: webhook_targets.Resolver, verify: ssl.SSLContext | bool = True) -> int:
    async def main() -> int:
        engine = db.create_engine(settings.database_url)
        try:
            async with webhooks.client(5.0, verify) as client:
                store = Observations(db.session_factory(engine))
                return await webhooks.deliver_due(store, settings, client, lambda: datetime.now(UTC), resolver)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def fire(settings: Settings, process_id: str) -> None:
    """A rule fires, recorded with its delivery the way the observer records it."""

    async def main() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            store = Observations(db.session_factory(engine))
            watched = next(w for w in await store.watched(NOW, 600) if w.id == process_id)
            change = observing.Transition("down", True, "no instance is ready")
            await store.record(watched, NOW, list(watched.snapshot.values()), [], None, 60, [change], {})
        finally:
            await engine.dispose()

    asyncio.run(main())


def hooked(
    settings: Settings, url: str, resolver: webhook_targets.Resolver, name: str = "hooked"
) -> tuple[Api, dict[str, Any]]:
    """A process whose webhook is `url`, set through the API, with one delivery due."""
    api = client_of(settings, resolver)
    api.client.__enter__()
    process = new_process(api, name)
    response = api.patch(rules_path(process), json={"webhook_url": url})
    assert response.status_code == 200, response.text
    fire(settings, process["id"])
    assert [d["status"] for d in deliveries(api, process)] == ["pending"]
    return api, process


@pytest.fixture
def closing() -> Iterator[list[Api]]:
    opened: list[Api] = []
    yield opened
    for api in opened:
        api.client.__exit__(None, None, None)


def test_a_name_rebound_to_loopback_is_refused_at_delivery(
    settings: Settings, receiver: Receiver, closing: list[Api]
) -> None:
    url = f"http://hooks.example.com:{receiver.port}/hooks"
    api, process = hooked(settings, url, fake_resolver("93.184.215.14"))
    closing.append(api)
    # By the time the delivery is due, the name points at loopback.
    assert run_deliveries(settings, fake_resolver("127.0.0.1")) == 0
    assert receiver.requests == []
    [delivery] = deliveries(api, process)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", 1, None)
    assert delivery["last_error"] == (
        "refused: hooks.example.com resolves to 127.0.0.1, a loopback address; webhooks go to public addresses only"
    )
    # Failed for good: not retried.
    assert run_deliveries(settings, fake_resolver("127.0.0.1")) == 0
    assert deliveries(api, process)[0]["attempts"] == 1


def test_one_private_answer_among_public_ones_is_refused_at_delivery(
    settings: Settings, receiver: Receiver, closing: list[Api]
) -> None:
    api, process = hooked(settings, f"http://hooks.example.com:{receiver.port}/", fake_resolver("93.184.215.14"))
    closing.append(api)
    assert run_deliveries(settings, fake_resolver("93.184.215.14", "::ffff:127.0.0.1")) == 0
    assert receiver.requests == []
    [delivery] = deliveries(api, process)
    assert delivery["status"] == "failed"
    assert "resolves to ::ffff:7f00:1 (carrying 127.0.0.1), a loopback address" in delivery["last_error"]


def test_localhost_is_refused_at_delivery_once_the_operator_no_longer_allows_it(
    settings: Settings, receiver: Receiver, closing: list[Api]
) -> None:
    url = f"http://localhost:{receiver.port}/hooks"
    api, process = hooked(allowing(settings, *LOOPBACK), url, webhook_targets.system_resolver)
    closing.append(api)
    assert run_deliveries(settings, webhook_targets.system_resolver) == 0
    assert receiver.requests == []
    [delivery] = deliveries(api, process)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    assert delivery["last_error"].startswith("refused: localhost is 127.0.0.1, a loopback address")


def test_a_delivery_goes_to_the_address_checked_with_the_name_as_host(
    settings: Settings, receiver: Receiver, closing: list[Api]
) -> None:
    # hooks.example.com does not resolve to this receiver in any real DNS: only a connection to
    # the address the (fake) resolver gave, 127.0.0.1, reaches it.
    allowed = allowing(settings, *LOOPBACK)
    api, process = hooked(allowed, f"http://hooks.example.com:{receiver.port}/hooks?x=1", fake_resolver("127.0.0.1"))
    closing.append(api)
    assert run_deliveries(allowed, fake_resolver("127.0.0.1")) == 1
    [(headers, body)] = receiver.requests
    assert headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert json.loads(body)["rule"] == "down"
    [delivery] = deliveries(api, process)
    assert (delivery["status"], delivery["last_status_code"], delivery["last_error"]) == ("delivered", 204, None)


def test_a_name_that_does_not_resolve_at_delivery_is_retried(settings: Settings, closing: list[Api]) -> None:
    api, process = hooked(settings, "https://hooks.example.com/x", fake_failing_resolver)
    closing.append(api)
    assert run_deliveries(settings, fake_failing_resolver) == 0
    [delivery] = deliveries(api, process)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert delivery["last_error"].startswith("hooks.example.com did not resolve")
    assert delivery["next_attempt_at"] is not None


def test_a_redirect_is_not_followed(settings: Settings, closing: list[Api]) -> None:
    target = Receiver()
    redirecting = Receiver(302, {"Location": f"http://127.0.0.1:{target.port}/elsewhere"})
    try:
        allowed = allowing(settings, *LOOPBACK)
        api, process = hooked(allowed, f"http://127.0.0.1:{redirecting.port}/", webhook_targets.system_resolver)
        closing.append(api)
        assert run_deliveries(allowed, webhook_targets.system_resolver) == 0
        assert len(redirecting.requests) == 1
        assert target.requests == []
        [delivery] = deliveries(api, process)
        assert (delivery["status"], delivery["last_status_code"]) == ("pending", 302)
        assert delivery["last_error"] == "HTTP 302 (redirects are not followed)"
    finally:
        target.close()
        redirecting.close()


def tls_for(directory: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate's path) and a server context holding a certificate it issued for `name`."""
    pair, ca = certs.serving_pair(directory, name)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pair.cert, pair.key)
    return ca, server


def test_https_is_verified_for_the_name_while_connecting_to_the_checked_address(
    settings: Settings, tmp_path: Path, closing: list[Api]
) -> None:
    ca, server = tls_for(tmp_path, "hooks.example.com")
    receiver = Receiver(tls=server)
    try:
        allowed = allowing(settings, *LOOPBACK)
        trust = ssl.create_default_context(cafile=str(ca))
        url = f"https://hooks.example.com:{receiver.port}/hooks"
        api, process = hooked(allowed, url, fake_resolver("127.0.0.1"))
        closing.append(api)
        assert run_deliveries(allowed, fake_resolver("127.0.0.1"), trust) == 1
        [(headers, _)] = receiver.requests
        assert headers["Host"] == f"hooks.example.com:{receiver.port}"
        assert deliveries(api, process)[0]["status"] == "delivered"
        # Another name pinned to the same address is checked against its own name: the certificate
        # does not match, and nothing is sent.
        other = f"https://other.example.com:{receiver.port}/hooks"
        api, process = hooked(allowed, other, fake_resolver("127.0.0.1"), "other")
        closing.append(api)
        assert run_deliveries(allowed, fake_resolver("127.0.0.1"), trust) == 0
        assert len(receiver.requests) == 1
        [delivery] = deliveries(api, process)
        assert delivery["status"] == "pending"
        assert "certificate" in delivery["last_error"].lower()
    finally:
        receiver.close()
