"""The chart without a cluster: lint, rendering of each scenario, the schema's refusals, secure
defaults for every pod, documented values, and the CRD copy."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import CHART, ROOT, by_kind, helm, named, pod_specs, template, template_error, values_args

# Pods listen on every interface of their own network namespace.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
SCENARIOS = ["default", "postgresql", "ingress", "crds-off"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(scenario: str) -> None:
    result = helm("lint", "--strict", str(CHART), *values_args(scenario))
    assert "0 chart(s) failed" in result.stdout


def test_crd_copy_is_identical() -> None:
    source = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    copy = {p.name: p.read_bytes() for p in (CHART / "files" / "crds").glob("*.yaml")}
    assert source, "no CRDs under crds/"
    assert copy == source, "helm/procplane/files/crds/ must be an identical copy of crds/: cp crds/*.yaml there"


def test_rendered_crds_are_the_repository_crds_with_release_labels() -> None:
    rendered = {c["metadata"]["name"]: c for c in by_kind(template(), "CustomResourceDefinition")}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        source = yaml.safe_load(path.read_text())
        crd = rendered.pop(source["metadata"]["name"])
        assert crd["spec"] == source["spec"]
        assert source["metadata"]["labels"].items() <= crd["metadata"]["labels"].items()
        assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert rendered == {}


def test_crds_follow_enabled_and_keep() -> None:
    assert by_kind(template("crds-off"), "CustomResourceDefinition") == []
    unkept = by_kind(template(overrides=["crds.keep=false"]), "CustomResourceDefinition")
    assert len(unkept) == 2
    assert all("annotations" not in c["metadata"] for c in unkept)


def test_default_runs_api_and_reconciler_in_one_pod_on_sqlite() -> None:
    objects = template(namespace="ops")
    assert [d["metadata"]["name"] for d in by_kind(objects, "Deployment")] == ["pp-procplane-server"]
    server = named(objects, "Deployment", "pp-procplane-server")
    assert server["spec"]["replicas"] == 1
    assert server["spec"]["strategy"] == {"type": "Recreate"}
    pod = server["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "pp-procplane-reconciler"
    assert pod["automountServiceAccountToken"] is True
    container = pod["containers"][0]
    assert container["args"] == [
        "serve", "--host", ALL_INTERFACES, "--port", "8000", "--workers", "4",
        "--health-host", ALL_INTERFACES, "--health-port", "8081",
    ]  # fmt: skip
    env = env_of(container)
    assert env["PROCPLANE_DATABASE_URL"] == "sqlite:////data/procplane.db"
    assert env["PROCPLANE_LEASE_NAMESPACE"] == "ops"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    # The one pod migrates its own database file as it starts: no init container, no hook Job.
    assert "initContainers" not in pod
    assert by_kind(objects, "Job") == []
    claim = named(objects, "PersistentVolumeClaim", "pp-procplane-data")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "pp-procplane-data"}} in pod["volumes"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert by_kind(objects, "PodDisruptionBudget") == []  # one replica: a PDB would only block drains
    service = named(objects, "Service", "pp-procplane")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "server"
    assert [sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")] == ["pp-procplane-reconciler"]


def test_sqlite_storage_class_and_existing_claim() -> None:
    objects = template(overrides=["database.sqlite.storageClassName=fast"])
    claim = named(objects, "PersistentVolumeClaim", "pp-procplane-data")
    assert claim["spec"]["storageClassName"] == "fast"
    objects = template(overrides=["database.sqlite.existingClaim=kept-data"])
    assert by_kind(objects, "PersistentVolumeClaim") == []
    pod = named(objects, "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "kept-data"}} in pod["volumes"]


def test_postgresql_splits_api_and_reconciler() -> None:
    objects = template("postgresql", namespace="ops")
    api = named(objects, "Deployment", "pp-procplane-api")
    reconciler = named(objects, "Deployment", "pp-procplane-reconciler")
    assert api["spec"]["replicas"] == 3
    assert reconciler["spec"]["replicas"] == 2
    api_pod, reconciler_pod = api["spec"]["template"]["spec"], reconciler["spec"]["template"]["spec"]
    assert api_pod["serviceAccountName"] == "pp-procplane-api"
    assert api_pod["automountServiceAccountToken"] is False
    assert named(objects, "ServiceAccount", "pp-procplane-api")["automountServiceAccountToken"] is False
    assert reconciler_pod["serviceAccountName"] == "pp-procplane-reconciler"
    assert api_pod["containers"][0]["args"] == ["api", "--host", ALL_INTERFACES, "--port", "8000", "--no-migrate"]
    assert reconciler_pod["containers"][0]["args"] == [
        "reconciler", "--workers", "4", "--health-host", ALL_INTERFACES, "--health-port", "8081"
    ]  # fmt: skip
    database = {"secretKeyRef": {"name": "procplane-database", "key": "url"}}
    api_env, reconciler_env = env_of(api_pod["containers"][0]), env_of(reconciler_pod["containers"][0])
    assert api_env["PROCPLANE_DATABASE_URL"] == reconciler_env["PROCPLANE_DATABASE_URL"] == database
    bootstrap = {"secretKeyRef": {"name": "procplane-bootstrap", "key": "bootstrap-token"}}
    assert api_env["PROCPLANE_BOOTSTRAP_TOKEN"] == bootstrap
    assert "PROCPLANE_BOOTSTRAP_TOKEN" not in reconciler_env  # the reconciler has no use for it
    assert reconciler_env["PROCPLANE_LEASE_NAMESPACE"] == "ops"
    assert "PROCPLANE_LEASE_NAMESPACE" not in api_env
    assert json.loads(api_env["PROCPLANE_RESOURCE_TYPES"]) == [
        {"name": "small", "category": "standard", "cpu_limit": 250, "memory_limit": 256},
        {"name": "large", "category": "standard", "cpu_limit": 2000, "memory_limit": 4096},
    ]
    assert api_env["PROCPLANE_DEFAULT_RESOURCE_TYPE"] == "small"
    assert api_env["PROCPLANE_MAX_PROCESSES_PER_APPLICATION"] == "5"
    assert api_env["PROCPLANE_MAX_INSTANCES_PER_PROCESS"] == "10"
    assert api_env["PROCPLANE_MAX_APPLICATIONS_PER_TEAM"] == "30"
    assert reconciler_env["PROCPLANE_INGRESS_CLASS"] == "nginx"
    assert reconciler_env["PROCPLANE_INGRESS_DOMAIN"] == "apps.example.com"
    assert by_kind(objects, "PersistentVolumeClaim") == []
    assert by_kind(objects, "Secret") == []  # both Secrets exist already
    pdbs = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "PodDisruptionBudget")}
    assert set(pdbs) == {"pp-procplane-api", "pp-procplane-reconciler"}
    assert all(spec["maxUnavailable"] == 1 for spec in pdbs.values())
    assert named(objects, "Service", "pp-procplane")["spec"]["selector"]["app.kubernetes.io/component"] == "api"


def test_the_api_gets_its_rate_limits_and_overload_bounds() -> None:
    defaults = env_of(
        named(template(), "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]["containers"][0]
    )
    assert defaults["PROCPLANE_RATE_LIMITS_ENABLED"] == "true"
    assert defaults["PROCPLANE_RATE_LIMIT_READS"] == "400"
    assert defaults["PROCPLANE_RATE_LIMIT_WRITES"] == "120"
    assert defaults["PROCPLANE_RATE_LIMIT_CREATIONS"] == "60"
    assert defaults["PROCPLANE_RATE_LIMIT_AUTH_FAILURES"] == "20"
    assert defaults["PROCPLANE_RATE_LIMIT_TEAM_FACTOR"] == "4"
    assert defaults["PROCPLANE_MAX_REQUESTS_IN_FLIGHT"] == "64"
    assert defaults["PROCPLANE_DATABASE_BUSY_TIMEOUT_SECONDS"] == "5"
    overrides = [
        "api.rateLimits.reads=1000",
        "api.rateLimits.teamFactor=10",
        "api.maxRequestsInFlight=16",
        "api.databasePool.timeoutSeconds=2",
        "database.busyTimeoutSeconds=3",
    ]
    objects = template("postgresql", overrides)
    api_env = env_of(named(objects, "Deployment", "pp-procplane-api")["spec"]["template"]["spec"]["containers"][0])
    assert api_env["PROCPLANE_RATE_LIMIT_READS"] == "1000"
    assert api_env["PROCPLANE_RATE_LIMIT_TEAM_FACTOR"] == "10"
    assert api_env["PROCPLANE_MAX_REQUESTS_IN_FLIGHT"] == "16"
    assert api_env["PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS"] == "2"
    assert api_env["PROCPLANE_DATABASE_POOL_SIZE"] == "10"
    reconciler = named(objects, "Deployment", "pp-procplane-reconciler")["spec"]["template"]["spec"]["containers"][0]
    assert "PROCPLANE_RATE_LIMIT_READS" not in env_of(reconciler)  # the API's alone
    # Both halves write to the database, so both wait as long for its locks.
    assert (
        api_env["PROCPLANE_DATABASE_BUSY_TIMEOUT_SECONDS"]
        == env_of(reconciler)["PROCPLANE_DATABASE_BUSY_TIMEOUT_SECONDS"]
        == "3"
    )


def test_ingress_and_database_url_secret() -> None:
    objects = template("ingress")
    ingress = named(objects, "Ingress", "pp-procplane")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["procplane.example.com"], "secretName": "procplane-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "procplane.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "pp-procplane", "port": {"name": "http"}}
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    secret = named(objects, "Secret", "pp-procplane-database")
    url = base64.b64decode(secret["data"]["database-url"]).decode()
    assert url == "postgresql://procplane:secret@db.example.com:5432/procplane"
    api = named(objects, "Deployment", "pp-procplane-api")["spec"]["template"]["spec"]["containers"][0]
    database = {"secretKeyRef": {"name": "pp-procplane-database", "key": "database-url"}}
    assert env_of(api)["PROCPLANE_DATABASE_URL"] == database
    assert by_kind(template(), "Ingress") == []


def test_webhook_allowed_networks_reach_the_api_and_the_reconciler() -> None:
    networks = "webhooks.allowedNetworks={10.20.0.0/16,fd00:1::/64}"
    objects = template("postgresql", overrides=[networks])
    for name in ("pp-procplane-api", "pp-procplane-reconciler"):
        container = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert env_of(container)["PROCPLANE_WEBHOOK_ALLOWED_NETWORKS"] == "10.20.0.0/16,fd00:1::/64"
    # By default none: webhooks reach public addresses only.
    server = named(template(), "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]["containers"][0]
    assert "PROCPLANE_WEBHOOK_ALLOWED_NETWORKS" not in env_of(server)


def test_bootstrap_token_sources() -> None:
    generated = named(template(), "Secret", "pp-procplane-bootstrap-token")
    token = base64.b64decode(generated["data"]["bootstrap-token"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{43}", token)
    given = named(template(overrides=["bootstrapToken.value=pp_given"]), "Secret", "pp-procplane-bootstrap-token")
    assert base64.b64decode(given["data"]["bootstrap-token"]) == b"pp_given"
    objects = template("crds-off")
    assert by_kind(objects, "Secret") == []
    server = named(objects, "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]["containers"][0]
    assert "PROCPLANE_BOOTSTRAP_TOKEN" not in env_of(server)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_is_restricted_read_only_and_bounded(scenario: str) -> None:
    objects = template(scenario)
    pods = pod_specs(objects)
    assert len(pods) >= 2  # the API or server, and the test pod
    for label, pod in pods:
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, label
        assert context["runAsUser"] >= 10000, label
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, label
        assert pod["enableServiceLinks"] is False, label
        for container in pod["containers"] + pod.get("initContainers", []):
            where = f"{label} {container['name']}"
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["runAsNonRoot"] is True, where
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, where
        talks_to_kubernetes = pod.get("serviceAccountName", "").endswith("-reconciler")
        assert pod["automountServiceAccountToken"] is talks_to_kubernetes, label
        volumes = {next(k for k in v if k != "name") for v in pod.get("volumes", [])}
        assert volumes <= {"emptyDir", "persistentVolumeClaim"}, label


def test_image_defaults_to_the_app_version_and_digest_wins() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    server = named(template(), "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]["containers"][0]
    assert server["image"] == f"ghcr.io/procplane/procplane:{chart['appVersion']}"
    digest = "sha256:" + "a" * 64
    pinned = named(template(overrides=[f"image.digest={digest}"]), "Deployment", "pp-procplane-server")
    assert pinned["spec"]["template"]["spec"]["containers"][0]["image"] == f"ghcr.io/procplane/procplane@{digest}"


def test_rbac_is_explicit_and_narrow() -> None:
    objects = template(namespace="ops")
    (cluster_role,) = by_kind(objects, "ClusterRole")
    (role,) = by_kind(objects, "Role")
    for rule in cluster_role["rules"] + role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    secrets = [r for r in cluster_role["rules"] if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch"]}]
    granted = {resource for rule in cluster_role["rules"] for resource in rule["resources"]}
    assert "leases" not in granted  # only in the release namespace, through the Role
    assert "customresourcedefinitions" not in granted  # the chart installs them
    assert role["metadata"]["namespace"] == "ops"
    assert {tuple(r["verbs"]) for r in role["rules"]} == {("create",), ("get", "update")}
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pp-procplane-reconciler", "namespace": "ops"}]
    assert by_kind(template(overrides=["rbac.create=false"]), "ClusterRole") == []


def test_helm_test_pod_calls_readyz_through_the_service() -> None:
    pod = named(template(namespace="ops"), "Pod", "pp-procplane-test-readyz")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert 'url = "http://pp-procplane.ops.svc:80/readyz"' in script
    assert pod["spec"]["restartPolicy"] == "Never"


def test_notes_tell_how_to_reach_the_api_and_get_a_key() -> None:
    notes = helm("install", "pp", str(CHART), "--dry-run=client", "--namespace", "ops").stdout.split("NOTES:", 1)[1]
    assert "kubectl port-forward -n ops service/pp-procplane 8000:80" in notes
    assert "kubectl get secret pp-procplane-bootstrap-token -n ops -o jsonpath='{.data.bootstrap-token}'" in notes
    assert "/v1/api-keys" in notes
    assert "helm test pp -n ops" in notes
    ingress = helm("install", "pp", str(CHART), "--dry-run=client", *values_args("ingress")).stdout
    assert "export PROCPLANE_API=https://procplane.example.com" in ingress
    keyless = helm("install", "pp", str(CHART), "--dry-run=client", "--set", "bootstrapToken.generate=false").stdout
    assert "procplane api-keys create --name operator --role operator" in keyless


REFUSED = [
    (["surprise=1"], "additional properties 'surprise' not allowed"),
    (["api.replica=2"], "at '/api': additional properties 'replica' not allowed"),
    (["database.sqlite.persistence=false"], "additional properties 'persistence' not allowed"),
    # Two API pods writing one SQLite file on one volume would lose data.
    (["api.replicas=2"], "at '/api/replicas': value must be 1"),
    (["database.type=postgresql"], "at '/database/postgresql'"),
    (["database.type=postgresql", "database.postgresql.url=postgresql://u@db/pp",
      "database.postgresql.existingSecret=s"], "at '/database/postgresql'"),
    (["database.type=mysql"], "at '/database/type'"),
    (["bootstrapToken.value=a", "bootstrapToken.existingSecret=b"], "at '/bootstrapToken': 'not' failed"),
    (["image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
    (["api.resources.limits=null"], "at '/api/resources': missing property 'limits'"),
    (["reconciler.resources.requests.memory=lots"], "at '/reconciler/resources/requests/memory'"),
    (["defaultResourceType=xl"], 'defaultResourceType "xl" is not in resourceTypes'),
    (["webhooks.allowedNetworks={private}"], "at '/webhooks/allowedNetworks/0'"),
    (["webhooks.allowedNetworks=10.0.0.0/8"], "at '/webhooks/allowedNetworks'"),
    (["api.rateLimits.reads=0"], "at '/api/rateLimits/reads'"),
    (["api.rateLimits.teamFactor=0"], "at '/api/rateLimits/teamFactor'"),
    (["database.busyTimeoutSeconds=0"], "at '/database/busyTimeoutSeconds'"),
    (["api.rateLimits.burst=5"], "at '/api/rateLimits': additional properties 'burst' not allowed"),
    (["api.databasePool.timeoutSeconds=0"], "at '/api/databasePool/timeoutSeconds'"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), REFUSED)
def test_values_that_would_break_or_lose_data_are_refused(overrides: list[str], message: str) -> None:
    assert message in template_error(overrides)


def test_sqlite_with_several_replicas_is_refused_even_without_the_schema(tmp_path: Path) -> None:
    """The template's own guard, for tools that render without validating the schema."""
    unchecked = tmp_path / "procplane"
    shutil.copytree(CHART, unchecked)
    (unchecked / "values.schema.json").unlink()
    result = helm("template", "pp", str(unchecked), "--set", "api.replicas=2", check=False)
    assert result.returncode != 0
    assert "database.type sqlite keeps its data in one file on one volume: api.replicas must be 1" in result.stderr


def test_duplicate_resource_type_names_are_refused(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    entry = {"name": "s1", "category": "standard", "cpu_limit": 500, "memory_limit": 512}
    values.write_text(yaml.safe_dump({"resourceTypes": [entry, entry]}))
    result = helm("template", "pp", str(CHART), "-f", str(values), check=False)
    assert result.returncode != 0
    assert 'resourceTypes: the name "s1" appears twice' in result.stderr


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        paths.add(prefix + key)
        if sub.get("additionalProperties") is False:
            paths |= _schema_paths(sub, prefix + key + ".")
    return paths


def _value_paths(values: Any, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    if isinstance(values, dict):
        for key, sub in values.items():
            paths.add(prefix + key)
            paths |= _value_paths(sub, prefix + key + ".")
    return paths


def test_schema_is_strict_and_values_document_every_key() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def check_strict(node: dict[str, Any], where: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
            for key, sub in node["properties"].items():
                check_strict(sub, f"{where}.{key}")
        if isinstance(node.get("items"), dict):
            check_strict(node["items"], f"{where}[]")

    check_strict(schema, "values")
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    # Scheduling maps and the catalog's items are free-form below their own key.
    free = {"api.nodeSelector", "api.affinity", "reconciler.nodeSelector", "reconciler.affinity",
            "metrics.dashboard.labels", "metrics.serviceMonitor.labels"}  # fmt: skip
    documented = {p for p in _value_paths(values) if not any(p.startswith(f + ".") for f in free)}
    assert documented == _schema_paths(schema) - {"global"}, "values.yaml and values.schema.json disagree"
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z_][\w-]*:", line):
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#"), f"values.yaml line {number + 1} has no comment: {line.strip()}"


def probe(path: str, port: str) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}}


def test_the_reconciler_is_probed_on_its_own_health_port() -> None:
    objects = template("postgresql", overrides=["reconciler.healthPort=9440"])
    reconciler = named(objects, "Deployment", "pp-procplane-reconciler")
    # No more "the reconciler has no endpoint to probe" exceptions for checkov.
    assert not [v for v in reconciler["metadata"]["annotations"].values() if "CKV_K8S_8" in v or "CKV_K8S_9" in v]
    container = reconciler["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["--health-port", "9440"]
    assert container["ports"] == [{"name": "health", "containerPort": 9440, "protocol": "TCP"}]
    assert container["livenessProbe"] | probe("/healthz", "health") == container["livenessProbe"]
    assert container["readinessProbe"] | probe("/readyz", "health") == container["readinessProbe"]
    # Prometheus reaches every replica through a headless Service; the NetworkPolicy lets it in.
    metrics = named(objects, "Service", "pp-procplane-reconciler-metrics")
    assert metrics["spec"]["clusterIP"] == "None"
    assert metrics["spec"]["ports"] == [{"name": "health", "port": 9440, "targetPort": "health", "protocol": "TCP"}]
    assert metrics["spec"]["selector"]["app.kubernetes.io/component"] == "reconciler"
    policy = named(objects, "NetworkPolicy", "pp-procplane-reconciler")
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "health", "protocol": "TCP"}]}]


def test_the_pod_running_both_is_live_by_the_reconciler_and_ready_by_the_api() -> None:
    objects = template()
    container = named(objects, "Deployment", "pp-procplane-server")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"] | probe("/healthz", "health") == container["livenessProbe"]
    assert container["readinessProbe"] | probe("/readyz", "http") == container["readinessProbe"]
    assert container["startupProbe"] | probe("/healthz", "http") == container["startupProbe"]
    assert [s["metadata"]["name"] for s in by_kind(objects, "Service")] == ["pp-procplane"]
    ports = named(objects, "NetworkPolicy", "pp-procplane-server")["spec"]["ingress"][0]["ports"]
    assert [p["port"] for p in ports] == ["http", "health"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_logs_json(scenario: str) -> None:
    # Every procplane container (the `helm test` pod runs only a probe).
    for where, pod in pod_specs(by_kind(template(scenario), "Deployment")):
        for container in pod["containers"] + pod.get("initContainers", []):
            env = env_of(container)
            assert (env["PROCPLANE_LOG_FORMAT"], env["PROCPLANE_LOG_LEVEL"]) == ("json", "info"), where


def test_service_monitor_is_off_by_default_and_scrapes_every_metrics_endpoint_once() -> None:
    assert by_kind(template(), "ServiceMonitor") == []
    assert by_kind(template("postgresql"), "ServiceMonitor") == []
    enabled = ["metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus",
               "metrics.serviceMonitor.interval=15s"]  # fmt: skip
    for scenario, ports in ((None, ["http"]), ("postgresql", ["http", "health"])):
        objects = template(scenario, overrides=enabled)
        (monitor,) = by_kind(objects, "ServiceMonitor")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        endpoints = monitor["spec"]["endpoints"]
        assert [e["port"] for e in endpoints] == ports
        assert all(e["path"] == "/metrics" and e["interval"] == "15s" for e in endpoints)
        # The selector finds the Services that carry those ports, and nothing else is scraped.
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in by_kind(objects, "Service") if selector.items() <= s["metadata"]["labels"].items()]
        assert sorted(p["name"] for s in selected for p in s["spec"]["ports"]) == sorted(ports)
    assert "interval" in template_error(["metrics.serviceMonitor.interval=soon"])


def test_grafana_dashboard_ships_in_the_chart_and_as_an_optional_configmap() -> None:
    dashboard = json.loads((CHART / "dashboards" / "procplane.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(dashboard["panels"]) >= 10
    # Every series the dashboard charts is one procplane exports.
    assert all("procplane_" in expr for expr in expressions)
    exported = {"procplane_http_requests_total", "procplane_http_request_duration_seconds_bucket",
                "procplane_reconcile_total", "procplane_reconcile_duration_seconds_bucket",
                "procplane_queue_depth", "procplane_apiserver_requests_total", "procplane_lease_held",
                "procplane_observer_lag_seconds", "procplane_webhook_deliveries_total",
                "procplane_rate_limit_refusals_total"}  # fmt: skip
    assert all(any(name in expr for expr in expressions) for name in exported)
    assert by_kind(template(), "ConfigMap") == []
    (configmap,) = by_kind(template(overrides=["metrics.dashboard.enabled=true"]), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["procplane.json"]) == dashboard


def test_postgresql_migrates_once_in_a_hook_job_before_the_pods_start() -> None:
    for scenario, overrides, secret, key in (
        ("postgresql", [], "procplane-database", "url"),
        (None, ["database.type=postgresql", "database.postgresql.url=postgresql://u:p@db/pp"], "pp-procplane-migrate",
         "database-url"),
    ):  # fmt: skip
        objects = template(scenario, overrides)
        api = named(objects, "Deployment", "pp-procplane-api")["spec"]["template"]["spec"]
        assert "initContainers" not in api
        job = named(objects, "Job", "pp-procplane-migrate")
        hooks = {o["kind"]: o["metadata"]["annotations"] for o in objects if o["metadata"].get("annotations", {}).get(
            "helm.sh/hook")}  # fmt: skip
        # The ServiceAccount (and the URL's copy) first: hooks run before the release's own objects exist.
        assert hooks["ServiceAccount"]["helm.sh/hook"] == hooks["Job"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(hooks["ServiceAccount"]["helm.sh/hook-weight"]) < int(hooks["Job"]["helm.sh/hook-weight"])
        assert ("Secret" in hooks) == (secret == "pp-procplane-migrate")
        pod = job["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "pp-procplane-migrate"
        assert pod["automountServiceAccountToken"] is False
        assert pod["restartPolicy"] == "Never"
        (container,) = pod["containers"]
        assert container["args"] == ["migrate"]
        assert env_of(container)["PROCPLANE_DATABASE_URL"] == {"secretKeyRef": {"name": secret, "key": key}}
        assert job["spec"]["activeDeadlineSeconds"] == 600


def test_install_id_is_derived_from_the_release_or_set() -> None:
    def install_id(namespace: str, release: str, *overrides: str) -> set[str]:
        objects = template("postgresql", list(overrides), namespace=namespace, release=release)
        return {env_of(pod["containers"][0])["PROCPLANE_INSTALL_ID"] for _, pod in pod_specs(objects)
                if "PROCPLANE_INSTALL_ID" in env_of(pod["containers"][0])}  # fmt: skip

    first = install_id("ops", "pp")
    assert len(first) == 1
    assert re.fullmatch(r"[0-9a-f]{16}", next(iter(first)))
    assert install_id("ops", "pp") == first  # what an upgrade renders again
    assert install_id("ops", "other") != first != install_id("staging", "pp")
    assert install_id("ops", "pp", "installId=blue") == {"blue"}
    assert "installId" in template_error(["installId=Not_A_Label"])


# Settings procplane reads that the chart sets no way, each with the reason.
NOT_FROM_THE_CHART = {
    "PROCPLANE_KUBECONFIG": "in a cluster procplane talks to Kubernetes with its ServiceAccount",
    "PROCPLANE_RESOURCE_TYPES_FILE": "the chart passes the catalog inline, as PROCPLANE_RESOURCE_TYPES",
}
# Values that make the optional settings appear in the rendered pods (the postgresql scenario
# names a default resource type).
EVERY_OPTION = ["applications.ingressClass=nginx", "applications.ingressDomain=apps.example.com",
                "webhooks.allowedNetworks={10.0.0.0/8}"]  # fmt: skip


def _settings_read() -> set[str]:
    """Every PROCPLANE_* variable named in procplane's own code, wherever it is read."""
    names: set[str] = set()
    for package in ("controlplane", "procplane", "reconciler"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"\bPROCPLANE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return names


def test_every_setting_procplane_reads_is_reachable_from_the_chart() -> None:
    read = _settings_read()
    assert {"PROCPLANE_DATABASE_URL", "PROCPLANE_INSTALL_ID"} <= read
    rendered: set[str] = set()
    for scenario in SCENARIOS:
        for _, pod in pod_specs(template(scenario, EVERY_OPTION)):
            for container in pod["containers"]:
                rendered |= set(env_of(container))
    assert read - set(NOT_FROM_THE_CHART) <= rendered, "settings the chart cannot set"
    assert set(NOT_FROM_THE_CHART) <= read, "an exemption for a setting procplane no longer reads"
