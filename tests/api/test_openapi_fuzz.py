"""The live API, over real HTTP, against its own OpenAPI document: schemathesis generates requests
from the document (valid ones and invalid ones) for every operation, then walks the links between
operations (create an application, a process in it, read it, change it with its ETag, delete it),
and checks every answer: no 5xx, every status, content type, header and body as documented,
invalid data refused, deleted resources gone, created ones reachable, no answer without a key, and
nothing one team's key reaches answered to another team's key but with 404. On SQLite and
PostgreSQL, bounded to a few examples per operation so it stays quick on two cores.

Every check schemathesis has runs on every operation, but `positive_data_acceptance` on the few in
POSITIVE_DATA_REFUSED, each with its reason; operations that cannot pass yet would go in
EXCLUDED_OPERATIONS, with theirs, until they are fixed (none today). The fuzzer calls
with the admin key of one team; every request it makes that succeeds on a resource is made again
with the admin key of another team, which must be answered 404 (`invisible_to_another_team`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from controlplane.api.app import create_app
from controlplane.domain.settings import Settings
from tests.api.conftest import ADMIN_TOKEN, SUITE_RATE_LIMITS, module_database
from tests.api.live import LiveServer

# Examples per operation and steps per stateful run: enough to reach every documented refusal,
# few enough that both databases take well under three minutes together.
# A deeper run: PROCPLANE_FUZZ_EXAMPLES=100 python3 -m uv run pytest tests/api/test_openapi_fuzz.py
MAX_EXAMPLES = int(os.environ.get("PROCPLANE_FUZZ_EXAMPLES", "5"))
# Not scaled with MAX_EXAMPLES: the state machine's rules depend on what the server answered, and
# at a few dozen sequences Hypothesis replays one whose rules differ (FlakyStrategyDefinition).
STATEFUL_EXAMPLES = 4
STATEFUL_STEPS = 8
# Every check runs on every operation, but for these operations `positive_data_acceptance` (a request
# the document allows must be accepted), each with why the document cannot promise that:
POSITIVE_DATA_REFUSED: dict[str, str] = {
    # JSON Schema counts 3.0 as an integer, where the strict wire contract (as Go's and msgspec's
    # decoders) refuses a float for an integer field; and cross-field rules the document cannot
    # state (ingress and probes for web only, a schedule for cron only, min <= max instances).
    "createProcess": "integers sent as 3.0; cross-field rules",
    "updateProcess": "integers sent as 3.0; cross-field rules",
    "putHeartbeat": "integers sent as 3.0",
    # A Procfile is free text: one without a `type: command` line declares nothing.
    "putProcfile": "a text that declares no process",
    # `from` and `to` are free-form times the service parses (Unix seconds or ISO 8601, 1970-9999).
    "searchProcesses": "times the service parses",
    # A webhook URL is judged by where its host resolves (no private networks), not by its shape.
    "updateAlertRules": "webhook targets judged by their addresses",
}
# Operations left out today, by operationId, with why.
EXCLUDED_OPERATIONS: dict[str, str] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        database_url=module_database(request, tmp_path_factory), bootstrap_token=ADMIN_TOKEN, **SUITE_RATE_LIMITS
    )
    with LiveServer(settings) as live:
        yield live


def as_operator(live: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{live.url}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class Callers(NamedTuple):
    home: str  # the admin key of the team the fuzzer works in
    intruder: str  # the admin key of another team


# The other team's caller of the live server under test (set by `callers`).
INTRUDER: dict[str, str] = {}
# Paths whose parameters name no team's resource: nodes belong to the cluster (their listing is
# filtered, not refused), and a ping authenticates with its heartbeat's own token.
SHARED_OPERATIONS = frozenset({"listNodeInstances", "pingHeartbeat"})


def team_admin(live: LiveServer, team: str) -> str:
    created = as_operator(live, "/v1/teams", {"name": team})
    key = as_operator(live, "/v1/api-keys", {"name": f"{team}-admin", "role": "admin", "team_id": created["id"]})
    token: str = key["token"]
    return token


@pytest.fixture(scope="module")
def callers(live_api: LiveServer) -> Iterator[Callers]:
    """Two teams with an admin key each. The fuzzer's key reaches only its own team (an admin may
    not create teams or reach another), so nothing it reaches by id is the other team's."""
    found = Callers(home=team_admin(live_api, "fuzz-home"), intruder=team_admin(live_api, "fuzz-intruders"))
    INTRUDER.update(url=live_api.url, token=found.intruder)
    yield found
    INTRUDER.clear()


@schemathesis.check
def invisible_to_another_team(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case[Any]) -> None:
    """What the operator key reached by id, another team's key is told does not exist: the same
    request, made again with that key, answers 404 (and so changes nothing)."""
    operation_id = case.operation.definition.raw.get("operationId")
    if not INTRUDER or not case.path_parameters or operation_id in SHARED_OPERATIONS or response.status_code >= 300:
        return
    replay = case.call(base_url=INTRUDER["url"], headers={"Authorization": f"Bearer {INTRUDER['token']}"})
    if replay.status_code != 404:
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered {response.status_code} to the operator and "
            f"{replay.status_code}, not 404, to another team's key: {replay.text[:300]}"
        )


def fuzz_config(token: str = ADMIN_TOKEN) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            # No NUL in generated strings: procplane refuses one in every string (PostgreSQL cannot
            # store it), which no JSON Schema keyword says; tests/api/test_hardening.py proves the
            # refusal on every route instead.
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "allow-x00": False},
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            "operations": [
                {"include-operation-id": operation_id, "checks": {"positive_data_acceptance": {"enabled": False}}}
                for operation_id in POSITIVE_DATA_REFUSED
            ],
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
    live_api: LiveServer, callers: Callers, operation_id: str, mode: GenerationMode
) -> None:
    """Valid requests are taken (or refused only as documented), invalid ones refused with a 4xx,
    and every answer is as the document says."""

    @given(case=OPERATIONS[operation_id].as_strategy(generation_mode=mode))
    @FUZZ_SETTINGS
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(
            base_url=live_api.url,
            headers={"Authorization": f"Bearer {callers.home}"},
            additional_checks=[invisible_to_another_team],
        )

    answers_as_documented()


def test_linked_operations_answer_as_documented(live_api: LiveServer, callers: Callers) -> None:
    """Sequences that follow the document's links: create an application, then a process in it,
    read it, change it with its ETag, delete it; a deployment, an API key."""
    schema: schemathesis.BaseSchema = schemathesis.openapi.from_url(
        f"{live_api.url}/schema/openapi.json", config=fuzz_config(callers.home)
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
