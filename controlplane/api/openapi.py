"""The OpenAPI document says what the API really answers. Litestar documents each handler's success
response and its own 400; this module adds, in one place and by the kind of operation, every
refusal an operation can answer with the problem body (`problems.Problem`, application/problem+json),
the request bodies Litestar cannot see (the Procfile), and the links from a created resource to the
operations that act on it, so that a client (or a fuzzer) can follow them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link, OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from controlplane.api.auth import READ_METHODS
from controlplane.api.problems import PROBLEM_JSON, Problem
from controlplane.api.security import admins_only, operators_only, writers_only
from controlplane.api.wire import Request
from controlplane.domain import validation
from controlplane.domain.naming import camel_case

# Why each status is answered; the body is always a problem with a stable `code`.
REFUSALS: dict[int, str] = {
    400: "Invalid request: `errors` names every refused field (`validation_failed`)",
    401: "No API key, or an unknown or revoked one (`unauthorized`)",
    402: "A plan limit would be exceeded (`plan_limit_reached`, with `scope` and `limit`)",
    403: "The API key's role may not do this (`forbidden`)",
    404: "No such resource, or not one this API key may see (`not_found`)",
    409: "Conflicts with the current state (`duplicate_*` or `conflict`)",
    412: "If-Match names a version the resource is no longer at (`precondition_failed`)",
    413: "The body is larger than the API accepts (`payload_too_large`)",
    415: "The body's Content-Type is not one this operation reads (`unsupported_media_type`)",
    429: "Over the request rate of the team or key (`rate_limited`); retry after `Retry-After` seconds",
    503: "Not ready, or shedding load (`not_ready`); retry later",
}
# Refusals that depend on what the service finds, not on the shape of the operation.
CONFLICTS = frozenset(
    {
        "createApplication",
        "updateApplication",
        "createProcess",
        "putProcfile",
        "createDeployment",
        "rollbackDeployment",
        "cancelDeployment",
        "createTeam",
        # The last admin key of a team, and the last operator key, stay.
        "revokeApiKey",
    }
)
PLAN_LIMITS = frozenset({"createApplication", "createProcess", "updateProcess", "putProcfile"})
# Operations whose body names a resource (a team) that may not exist or not be the caller's.
NOT_FOUND_IN_BODY = frozenset({"createApplication", "createApiKey"})
# Operations without parameters to validate that still refuse a request as invalid (a cron-only action).
INVALID_WITHOUT_INPUT = frozenset({"triggerProcess"})

_PROCFILE_BYTES = 64 * 1024
_APP_JSON = Schema(
    type=OpenAPIType.OBJECT,
    description="An app.json: its `cron` list declares cron processes; its other sections are ignored",
    required=["cron"],
    properties={
        "cron": Schema(
            type=OpenAPIType.ARRAY,
            min_items=1,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["command", "schedule"],
                additional_properties=False,
                properties={
                    "command": Schema(type=OpenAPIType.STRING, min_length=1, max_length=1024),
                    "schedule": Schema(type=OpenAPIType.STRING, min_length=1, max_length=100),
                    "key": Schema(
                        type=OpenAPIType.STRING,
                        min_length=1,
                        max_length=validation.KEY_MAX,
                        pattern=validation.DNS_LABEL.pattern,
                    ),
                    "time_zone": Schema(type=OpenAPIType.STRING, min_length=1, max_length=100),
                },
            ),
        ),
    },
)
REQUEST_BODIES: dict[str, RequestBody] = {
    "putProcfile": RequestBody(
        required=True,
        description="A Procfile (`type: command` lines), or an app.json whose `cron` list declares cron processes",
        content={
            "text/plain": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, max_length=_PROCFILE_BYTES, description="A Procfile, UTF-8")
            ),
            "application/json": OpenAPIMediaType(schema=_APP_JSON),
        },
    ),
}


def _links(source: str, targets: tuple[str, ...], parameters: dict[str, str]) -> dict[str, Link]:
    return {
        target: Link(operation_id=target, parameters=parameters, description=f"{target} on what {source} returns")
        for target in targets
    }


_APP = {"app_id": "$response.body#/id"}
_PROCESS = {"app_id": "$response.body#/app_id", "process_id": "$response.body#/id"}
_RELEASE = {"app_id": "$response.body#/app_id", "release_id": "$response.body#/id"}
_APP_OPERATIONS = (
    "getApplication",
    "updateApplication",
    "deleteApplication",
    "getConfigVars",
    "updateConfigVars",
    "listProcesses",
    "createProcess",
    "putProcfile",
    "listDeployments",
    "createDeployment",
)
_PROCESS_OPERATIONS = (
    "getProcess",
    "updateProcess",
    "deleteProcess",
    "triggerProcess",
    "listProcessRuns",
    "listInstances",
    "listSamples",
    "getProcessMetric",
    "getAlertRules",
    "updateAlertRules",
    "listWebhookDeliveries",
    "getHeartbeat",
    "putHeartbeat",
    "deleteHeartbeat",
)
# operationId → status → links, from the response that names a resource to what acts on it.
LINKS: dict[str, dict[str, dict[str, Link]]] = {
    "createApplication": {"201": _links("createApplication", _APP_OPERATIONS, _APP)},
    "getApplication": {"200": _links("getApplication", _APP_OPERATIONS, _APP)},
    "createProcess": {"200": _links("createProcess", _PROCESS_OPERATIONS, _PROCESS)},
    "getProcess": {
        "200": {
            **_links("getProcess", _PROCESS_OPERATIONS, _PROCESS),
            # The version just read, so that the conditional write succeeds.
            "updateProcessIfMatch": Link(
                operation_id="updateProcess",
                parameters={**_PROCESS, "header.If-Match": "$response.header.ETag"},
                description="updateProcess on the version getProcess returned",
            ),
        }
    },
    "createDeployment": {"201": _links("createDeployment", ("getDeployment", "cancelDeployment"), _RELEASE)},
    "createApiKey": {"201": _links("createApiKey", ("revokeApiKey",), {"key_id": "$response.body#/id"})},
}


class ClosedRequests(StructSchemaPlugin):
    """Request bodies refuse unknown fields (`wire.Request`), so their schemas say
    `additionalProperties: false`; Litestar's own msgspec schemas leave them open. (Litestar has no
    public base for this: the struct plugin it uses for every msgspec type is extended here.)"""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and field_definition.is_subclass_of(Request)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        if getattr(field_definition.annotation, "names_a_field", False):
            schema.min_properties = 1
        return schema


@dataclass
class DocumentedOperation(Operation):
    """Litestar's operation, completed with the request bodies and links above."""

    request_bodies: ClassVar[dict[str, RequestBody]] = REQUEST_BODIES
    links: ClassVar[dict[str, dict[str, dict[str, Link]]]] = LINKS

    def __post_init__(self) -> None:
        operation = self.operation_id or ""
        if self.request_body is None and operation in self.request_bodies:
            self.request_body = self.request_bodies[operation]
        responses = self.responses or {}
        # Litestar documents its own 400 body for any operation with parameters; where procplane
        # refuses nothing as invalid, there is no 400 to document.
        if "400" in responses and PROBLEM_JSON not in (getattr(responses["400"], "content", None) or {}):
            del responses["400"]
        for status, links in self.links.get(operation, {}).items():
            response = responses.get(status)
            if response is not None and not isinstance(response, dict) and hasattr(response, "links"):
                response.links = links


def operation_name(handler: HTTPRouteHandler) -> str:
    """The handler's name in camelCase (`list_processes` → `listProcesses`): its operationId, stable
    across releases, so generated clients keep their method names."""
    return camel_case(handler.handler_name)


def _inputs(handler: HTTPRouteHandler, path_parameters: set[str]) -> tuple[bool, set[str]]:
    """Whether the handler reads query parameters, and which headers it reads, through the
    dependencies it uses too (`pagination` reads `offset` and `limit`)."""
    dependencies = handler.resolve_dependencies()
    fields = list(handler.parsed_fn_signature.parameters.values())
    query, headers, used = False, set(), set()
    while fields:
        field = fields.pop()
        header = getattr(field.kwarg_definition, "header", None)
        if header:
            headers.add(header.lower())
        elif field.name in dependencies:
            if field.name not in used:
                used.add(field.name)
                fields += dependencies[field.name].parsed_fn_signature.parameters.values()
        elif field.name not in RESERVED_KWARGS and field.name not in path_parameters:
            query = True
    return query, headers


def refusals(handler: HTTPRouteHandler, method: str, path: str, path_parameters: set[str]) -> set[int]:
    """The statuses an operation can refuse with, by its kind: where it lives (authenticated, rate
    limited and shed under `/v1`), who may call it, what it reads (parameters, headers, a body) and
    what its service can find (conflicts, plan limits)."""
    if not path.startswith("/v1"):
        # The probes: only readiness fails, when the database does not answer.
        return {503} if handler.handler_name == "readyz" else set()
    operation = operation_name(handler)
    query, headers = _inputs(handler, path_parameters)
    has_body = "data" in handler.parsed_fn_signature.parameters or operation in REQUEST_BODIES
    statuses = {401, 429, 503}
    # Litestar wraps each guard; `func` is the guard as written.
    guards = {getattr(guard, "func", guard) for guard in handler.resolve_guards()}
    role_guarded = admins_only in guards or operators_only in guards
    if (writers_only in guards and method not in READ_METHODS) or role_guarded or operation == "pingHeartbeat":
        statuses.add(403)
    if query or has_body or operation in INVALID_WITHOUT_INPUT:
        statuses.add(400)
    if path_parameters or operation in NOT_FOUND_IN_BODY:
        statuses.add(404)
    if "if-match" in headers:
        statuses.add(412)
    if has_body:
        statuses |= {413, 415}
    if operation in CONFLICTS:
        statuses.add(409)
    if operation in PLAN_LIMITS:
        statuses.add(402)
    return statuses


def document(app: Litestar) -> None:
    """Give every route handler its refusals and the completed operation; Litestar builds the
    document from them when it is first asked for."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path_parameters = set(route.path_parameters)
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                responses: dict[int, ResponseSpec] = dict(handler.responses or {})
                for status in sorted(refusals(handler, method, route.path, path_parameters)):
                    responses.setdefault(status, _problem_response(status))
                handler.responses = responses
            handler.operation_class = DocumentedOperation


def _problem_response(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem, media_type=PROBLEM_JSON, description=REFUSALS[status], generate_examples=False
    )
