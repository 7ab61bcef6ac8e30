"""The CRDs in ``crds/`` parse, are structural, and accept the custom resources render produces.

The apiserver's own validation (including the CEL rules) runs in the cluster tests; here a small
validator covers the OpenAPI keywords the CRDs use, so a field rendered but missing from the
schema (which the apiserver would silently prune) fails fast.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from controlplane.domain import spec
from reconciler.render import manifests as render
from tests.unit.specs import APP_ID, process_spec

CRDS = Path(__file__).resolve().parents[2] / "crds"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

APP = spec.ApplicationSpec(
    id=APP_ID,
    name="shop",
    namespace="shop-k3x9qa",
    image="registry.example.com/shop:1.4.2",
)


process = process_spec


PROCESSES = [
    process(
        "web",
        "web",
        entrypoint="gunicorn app:app",
        is_ingress_enabled=True,
        ingress_protocol="grpc",
        liveness_probe={"httpGet": {"path": "/health", "port": 8080}},
        readiness_probe={"grpc": {"port": 8080}, "periodSeconds": 5},
        scaling=spec.HorizontalScaling(
            min_instance_count=0,
            max_instance_count=50,
            target_cpu_percent=100,
            target_memory_percent=1,
            scale_up_interval_seconds=1,
            scale_down_interval_seconds=60000,
            scale_up_increment=5,
            scale_down_increment=1,
        ),
    ),
    process("worker", "worker", scaling=spec.ManualScaling(instance_count=0), suspended=True),
    process("report", "cron", schedule="0 * * * *", time_zone="America/New_York", job_timeout_seconds=60),
    process("release", "job", job_start_policy="afterSuccessDeployment", job_backoff_limit=3),
]


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CRDS / f"{name}.procplane.dev.yaml").read_text())
    return loaded


def version(crd: dict[str, Any]) -> dict[str, Any]:
    versions: list[dict[str, Any]] = crd["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


def schema_of(name: str) -> dict[str, Any]:
    result: dict[str, Any] = version(load(name))["schema"]["openAPIV3Schema"]
    return result


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Errors of ``value`` against the OpenAPI subset the CRDs use, with JSON-ish paths."""
    where = path or "<root>"
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    if kind == "object":
        return _validate_object(value, schema, path)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected array"]
        return [error for i, item in enumerate(value) for error in validate(item, schema["items"], f"{path}[{i}]")]
    if kind == "string":
        return _validate_string(value, schema, where)
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected integer"]
        if "minimum" in schema and value < schema["minimum"]:
            return [f"{where}: {value} < minimum {schema['minimum']}"]
        if "maximum" in schema and value > schema["maximum"]:
            return [f"{where}: {value} > maximum {schema['maximum']}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected boolean"]
    return [f"{where}: schema without a type"]


def _validate_object(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    where = path or "<root>"
    if not isinstance(value, dict):
        return [f"{where}: expected object"]
    if path == ".metadata" or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    errors = [f"{where}: missing required {field!r}" for field in schema.get("required", []) if field not in value]
    properties = schema.get("properties", {})
    for field, item in value.items():
        if field in properties:
            errors.extend(validate(item, properties[field], f"{path}.{field}"))
        else:
            errors.append(f"{where}: unknown field {field!r} would be pruned")
    return errors


def _validate_string(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: expected string"]
    errors = []
    if len(value) < schema.get("minLength", 0):
        errors.append(f"{where}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: does not match {schema['pattern']}")
    formats = {"uuid": UUID, "date-time": DATE_TIME}
    if schema.get("format") in formats and not formats[schema["format"]].match(value):
        errors.append(f"{where}: not a {schema['format']}")
    return errors


def walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path, schema)]
    for field, child in schema.get("properties", {}).items():
        nodes.extend(walk(child, f"{path}.{field}"))
    if "items" in schema:
        nodes.extend(walk(schema["items"], f"{path}[]"))
    return nodes


def resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any]:
    """The schema node a printer-column JSONPath points at (dotted paths and ``[?(...)]`` filters)."""
    node = schema
    for part in re.sub(r"\[\?\(.*?\)\]", "[]", json_path).strip(".").split("."):
        field, is_list = part.removesuffix("[]"), part.endswith("[]")
        node = node["properties"][field]
        if is_list:
            node = node["items"]
    return node


# --- the CRD documents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "scope", "short_name"),
    [("processes", "Process", "Namespaced", "pp"), ("applications", "Application", "Cluster", "ppapp")],
)
def test_crd_identity(name: str, kind: str, scope: str, short_name: str) -> None:
    crd = load(name)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{name}.procplane.dev"
    assert crd["spec"]["group"] == "procplane.dev"
    assert crd["spec"]["scope"] == scope
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["listKind"]) == (kind, name, f"{kind}List")
    assert short_name in names["shortNames"]
    served = version(crd)
    assert (served["name"], served["served"], served["storage"]) == ("v1alpha1", True, True)
    assert served["subresources"] == {"status": {}}


@pytest.mark.parametrize("name", ["processes", "applications"])
def test_schema_is_structural(name: str) -> None:
    for path, node in walk(schema_of(name)):
        assert "type" in node, f"{name}{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        if node.get("x-kubernetes-list-type") == "map":
            assert set(node["x-kubernetes-list-map-keys"]) <= set(node["items"]["required"]), path
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["rule"], path
            assert rule["message"], path


@pytest.mark.parametrize("name", ["processes", "applications"])
def test_printer_columns_point_at_schema_fields_of_the_right_type(name: str) -> None:
    schema = schema_of(name)
    columns = version(load(name))["additionalPrinterColumns"]
    assert columns[-1]["name"] == "Age"
    for column in columns:
        if column["jsonPath"].startswith(".metadata."):
            continue
        node = resolve(schema, column["jsonPath"])
        expected = "string" if column["type"] == "date" else column["type"]
        assert node["type"] == expected, column


def test_process_printer_columns() -> None:
    columns = {c["name"]: c["jsonPath"] for c in version(load("processes"))["additionalPrinterColumns"]}
    assert columns == {
        "Type": ".spec.type",
        "Desired": ".status.desiredInstances",
        "Ready": ".status.readyInstances",
        "Status": ".status.state",
        "Hostname": ".status.internalHostname",
        "Age": ".metadata.creationTimestamp",
    }


def test_process_status_carries_conditions_instances_and_hostname() -> None:
    status = {
        "observedGeneration": 3,
        "state": "up",
        "desiredInstances": 2,
        "readyInstances": 2,
        "internalHostname": "shop-web.shop-k3x9qa.svc.cluster.local",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "AllInstancesReady",
                "message": "2/2 instances ready",
                "lastTransitionTime": "2025-01-30T00:00:00Z",
                "observedGeneration": 3,
            }
        ],
    }
    assert validate(status, schema_of("processes")["properties"]["status"]) == []
    bad = {"conditions": [{"type": "Ready", "status": "yes"}], "state": "running", "readyInstances": -1}
    assert validate(bad, schema_of("processes")["properties"]["status"]) == [
        ".conditions[0].status: 'yes' not in ['True', 'False', 'Unknown']",
        ".state: 'running' not in ['paused', 'pending', 'down', 'alerting', 'up']",
        ".readyInstances: -1 < minimum 0",
    ]


# --- rendered custom resources against the schemas ------------------------------------------


@pytest.mark.parametrize("spec_", PROCESSES, ids=lambda p: p.type)
def test_rendered_process_cr_satisfies_the_crd_schema(spec_: spec.ProcessSpec) -> None:
    cr = render.render_process_cr(APP, spec_)
    assert validate(cr, schema_of("processes")) == []


@pytest.mark.parametrize("image", ["registry.example.com/shop:1.4.2", None])
def test_rendered_application_cr_satisfies_the_crd_schema(image: str | None) -> None:
    cr = render.render_application_cr(msgspec.structs.replace(APP, image=image))
    assert validate(cr, schema_of("applications")) == []


def test_every_process_api_field_has_a_home_in_the_process_schema() -> None:
    fields = set(schema_of("processes")["properties"]["spec"]["properties"])
    assert fields >= {
        "id",
        "appId",
        "key",
        "type",
        "displayName",
        "entrypoint",
        "port",
        "isIngressEnabled",
        "ingressProtocol",
        "scalingStrategy",
        "resourceTypeName",
        "cpuLimit",
        "memoryLimit",
        "schedule",
        "timeZone",
        "jobStartPolicy",
        "livenessProbe",
        "readinessProbe",
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("port",), 0),
        (("port",), 65536),
        (("key",), "Web"),
        (("key",), "-web"),
        (("key",), "k" * 64),
        (("type",), "daemon"),
        (("ingressProtocol",), "websocket"),
        (("displayName",), ""),
        (("entrypoint",), "x" * 1025),
        (("id",), "not-a-uuid"),
        (("scalingStrategy", "config", "maxInstanceCount"), 51),
        (("scalingStrategy", "config", "targetCpuPercent"), 0),
        (("scalingStrategy", "config", "scaleUpIntervalSeconds"), 60001),
        (("scalingStrategy", "config", "scaleDownIncrement"), 6),
        (("scalingStrategy", "type"), "vertical"),
        (("jobStartPolicy",), "beforeRelease"),
        (("schedule",), "x" * 101),
        (("cpuLimit",), 0),
        (("suspended",), "yes"),
        (("unknownField",), 1),
    ],
    ids=lambda v: str(v)[:30],
)
def test_process_schema_rejects_values_outside_the_api_limits(change: tuple[str, ...], error: Any) -> None:
    cr = copy.deepcopy(render.render_process_cr(APP, PROCESSES[0]))
    target = cr["spec"]
    for field in change[:-1]:
        target = target[field]
    target[change[-1]] = error
    errors = validate(cr, schema_of("processes"))
    assert len(errors) == 1, errors
    if change == ("unknownField",):
        assert errors == [".spec: unknown field 'unknownField' would be pruned"]
    else:
        assert errors[0].startswith(".spec." + ".".join(change) + ":"), errors


def test_process_schema_requires_the_identity_and_size_fields() -> None:
    cr = render.render_process_cr(APP, PROCESSES[1])
    for field in ("id", "appId", "key", "type", "scalingStrategy", "cpuLimit", "memoryLimit"):
        broken = copy.deepcopy(cr)
        del broken["spec"][field]
        assert validate(broken, schema_of("processes")) == [f".spec: missing required {field!r}"]
