"""The live API, over real HTTP, against its own OpenAPI document: schemathesis generates requests
from the document (valid ones and invalid ones) for every operation, then walks the links between
operations (create an application, a process in it, read it, change it with its ETag, delete it),
and checks every answer: no 5xx, every status, content type, header and body as documented,
invalid data refused, deleted resources gone, created ones reachable, no answer without a key.
On SQLite and PostgreSQL, bounded to a few examples per operation so it stays quick on two cores.

Every check schemathesis has runs but those in EXCLUDED_CHECKS, each with its reason; operations
that cannot pass yet go in EXCLUDED_OPERATIONS, with theirs, until they are fixed. The callers are
one admin key (and a viewer key, made through the API): once keys belong to teams, a key of
another team plugs in there for the authorization checks."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings, normalize_database_url
from tests.api.conftest import ADMIN_TOKEN
from tests.postgres import PostgresServer

# Examples per operation and steps per stateful run: enough to reach every documented refusal,
# few enough that both databases take well under three minutes together.
# A deeper run: PROCPLANE_FUZZ_EXAMPLES=100 python3 -m uv run pytest tests/api/test_openapi_fuzz.py
MAX_EXAMPLES = int(os.environ.get("PROCPLANE_FUZZ_EXAMPLES", "5"))
# Not scaled with MAX_EXAMPLES: the state machine's rules depend on what the server answered, and
# at a few dozen sequences Hypothesis replays one whose rules differ (FlakyStrategyDefinition).
STATEFUL_EXAMPLES = 4
STATEFUL_STEPS = 8
# Checks left out, with why (see the module docstring).
EXCLUDED_CHECKS: dict[CheckFunction, str] = {
    # The document cannot state the cross-field rules (ingress and probes for web only, a schedule
    # for cron only, min <= max instances...), free-form values the service parses (time windows,
    # tags) or "name at least one field", so a schema-valid request may still be refused with 400;
    # and JSON Schema counts 3.0 as an integer where the wire contract refuses it.
    openapi_checks.positive_data_acceptance: "cross-field rules the document cannot express",
}
# Operations left out today, by operationId, with why.
EXCLUDED_OPERATIONS: dict[str, str] = {}


class LiveServer:
    """procplane's app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
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
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'procplane.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    settings = Settings(database_url=normalize_database_url(url), bootstrap_token=ADMIN_TOKEN)
    with LiveServer(settings) as live:
        yield live


def new_key(live: LiveServer, role: str, name: str) -> str:
    """An API key made through the API, for a second caller (another role now; another team once
    keys belong to teams)."""
    response = httpx.post(
        f"{live.url}/v1/api-keys",
        json={"name": name, "role": role},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture(scope="module")
def callers(live_api: LiveServer) -> dict[str, str]:
    """The keys the fuzzer calls with, by name. Only `admin` is used today; the authorization checks
    (one team's resources invisible to another's key) plug `other_team` in once teams exist."""
    return {"admin": ADMIN_TOKEN, "viewer": new_key(live_api, "viewer", "fuzz-viewer")}


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            "checks": {check.__name__: {"enabled": False} for check in EXCLUDED_CHECKS},
        }
    )


def the_document() -> dict[str, Any]:
    """The document as the app builds it, without serving it: the operations are known when the
    tests are collected, one test per operation."""
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", bootstrap_token=ADMIN_TOKEN)
    return create_app(settings, run_migrations=False).openapi_schema.to_schema()


SCHEMA = schemathesis.openapi.from_dict(the_document(), config=fuzz_config())


def _operations() -> dict[str, Any]:
    found = {}
    for result in SCHEMA.get_all_operations():
        # An operation the document describes badly fails here, at collection.
        assert isinstance(result, Ok), result
        operation = result.ok()
        found[SCHEMA.get_operation_id(operation) or operation.label] = operation
    return found


OPERATIONS = _operations()
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def has_inputs(operation_id: str) -> bool:
    """Whether invalid requests can be made for it: a body or query parameters (ids are any string)."""
    definition = OPERATIONS[operation_id].definition.raw
    return "requestBody" in definition or any(p.get("in") == "query" for p in definition.get("parameters", []))


CASES = [
    (operation_id, mode)
    for operation_id in sorted(set(OPERATIONS) - set(EXCLUDED_OPERATIONS))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or has_inputs(operation_id)
]


@pytest.mark.parametrize(("operation_id", "mode"), CASES, ids=[f"{o}-{m.value}" for o, m in CASES])
def test_operation_answers_as_documented(
    live_api: LiveServer, callers: dict[str, str], operation_id: str, mode: GenerationMode
) -> None:
    """Valid requests are taken (or refused only as documented), invalid ones refused with a 4xx,
    and every answer is as the document says."""

    @given(case=OPERATIONS[operation_id].as_strategy(generation_mode=mode))
    @FUZZ_SETTINGS
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=live_api.url, excluded_checks=list(EXCLUDED_CHECKS))

    answers_as_documented()


def test_linked_operations_answer_as_documented(live_api: LiveServer, callers: dict[str, str]) -> None:
    """Sequences that follow the document's links: create an application, then a process in it,
    read it, change it with its ETag, delete it; a deployment, an API key."""
    schema: schemathesis.BaseSchema = schemathesis.openapi.from_url(
        f"{live_api.url}/schema/openapi.json", config=fuzz_config()
    )
    for operation_id in EXCLUDED_OPERATIONS:
        schema = schema.exclude(operation_id=operation_id)
    schema.as_state_machine().run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
    )
