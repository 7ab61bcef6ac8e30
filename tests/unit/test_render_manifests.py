"""Render output for every process type and option, against expected manifests and invariants.

Expected manifests live in ``expected/*.yaml``. After an intended change to rendering, rewrite
them with ``PROCPLANE_UPDATE_EXPECTED=1 pytest tests/unit`` and review the diff like code.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from controlplane.domain import spec, states
from reconciler.render import labels
from reconciler.render import manifests as render
from reconciler.render import pod as render_pod
from reconciler.render import workloads as render_workloads
from tests.unit.specs import process_spec

EXPECTED = Path(__file__).parent / "expected"
UPDATE = os.environ.get("PROCPLANE_UPDATE_EXPECTED") == "1"

APP_ID = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f"
PROCESS_CR_UID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
CRONJOB_UID = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

APP = spec.ApplicationSpec(
    id=APP_ID,
    name="shop",
    namespace="shop-k3x9qa",
    image="registry.example.com/shop:1.4.2",
    config_vars={"DATABASE_URL": "postgres://db.internal/shop", "LOG_LEVEL": "info"},
)

INGRESS = spec.RenderOptions(
    ingress_class="nginx",
    ingress_domain="apps.example.com",
    ingress_tls_secret_name="apps-wildcard-tls",
    ingress_annotations={"example.com/owner": "platform"},
    ingress_grpc_annotations={"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"},
)


def make_process(key: str, type_: str, id_: str, **overrides: Any) -> spec.ProcessSpec:
    return process_spec(key, type_, id=id_, app_id=APP_ID, **overrides)


WEB = make_process(
    "web",
    "web",
    "3c0e5a7b-1d2f-4e6a-9b8c-7d6e5f4a3b2c",
    entrypoint="gunicorn shop.wsgi --bind 0.0.0.0:$PORT",
    is_ingress_enabled=True,
    scaling=spec.ManualScaling(instance_count=2),
    liveness_probe={"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10},
    readiness_probe={"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}},
)
GRPC = make_process(
    "api",
    "web",
    "4d1f6b8c-2e3a-4f7b-8c9d-8e7f6a5b4c3d",
    entrypoint="./server",
    port=9090,
    is_ingress_enabled=True,
    ingress_protocol="grpc",
    resource_type_name="s2",
    cpu_millicores=1000,
    memory_mb=1024,
    scaling=spec.HorizontalScaling(
        min_instance_count=2,
        max_instance_count=10,
        target_cpu_percent=70,
        target_memory_percent=80,
        scale_up_interval_seconds=30,
        scale_down_interval_seconds=600,
        scale_up_increment=2,
        scale_down_increment=1,
    ),
)
WORKER = make_process(
    "worker",
    "worker",
    "5e2a7c9d-3f4b-4a8c-9d0e-9f8a7b6c5d4e",
    entrypoint="celery -A shop worker",
)
AUTOSCALED_WORKER = make_process(
    "queue",
    "worker",
    "6f3b8d0e-4a5c-4b9d-8e1f-0a9b8c7d6e5f",
    entrypoint="bin/queue",
    scaling=spec.HorizontalScaling(min_instance_count=0, max_instance_count=4, target_memory_percent=75),
)
CRON = make_process(
    "report",
    "cron",
    "7a4c9e1f-5b6d-4c0e-9f2a-1b0c9d8e7f6a",
    entrypoint="bin/report --daily",
    schedule="*/15 * * * *",
    time_zone="America/New_York",
    job_timeout_seconds=600,
    job_backoff_limit=2,
)
JOB = make_process(
    "release",
    "job",
    "8b5d0f2a-6c7e-4d1f-8a3b-2c1d0e9f8a7b",
    entrypoint="bin/migrate",
    job_start_policy="beforeDeployment",
    job_timeout_seconds=900,
    job_ttl_seconds=3600,
)
ALL_PROCESSES = (WEB, GRPC, WORKER, AUTOSCALED_WORKER, CRON, JOB)
# An application has at most one web process.
ONE_APP = (WEB, WORKER, AUTOSCALED_WORKER, CRON, JOB)


def objects(
    process: spec.ProcessSpec,
    options: spec.RenderOptions | None = None,
    app: spec.ApplicationSpec = APP,
) -> list[dict[str, Any]]:
    return render.render_process_objects(app, process, options or spec.RenderOptions(), PROCESS_CR_UID)


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [m["kind"] for m in manifests]
    assert len(kinds) == len(set(kinds)), kinds
    return {m["kind"]: m for m in manifests}


def kinds(manifests: list[dict[str, Any]]) -> list[str]:
    return [m["kind"] for m in manifests]


def deployment(process: spec.ProcessSpec, options: spec.RenderOptions | None = None) -> dict[str, Any]:
    return by_kind(objects(process, options))["Deployment"]


def pod_spec_of(manifest: dict[str, Any]) -> dict[str, Any]:
    spec_ = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec_ = spec_["jobTemplate"]["spec"]
    result: dict[str, Any] = spec_["template"]["spec"]
    return result


def config_hash(manifest: dict[str, Any]) -> str:
    spec_ = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec_ = spec_["jobTemplate"]["spec"]
    value: str = spec_["template"]["metadata"]["annotations"][labels.CONFIG_HASH]
    return value


def trigger_job() -> dict[str, Any]:
    cronjob = by_kind(objects(CRON))["CronJob"]
    return render.render_trigger_job(APP, CRON, cronjob, "manual-29000000", cronjob_uid=CRONJOB_UID)


def release_job() -> dict[str, Any]:
    return render.render_release_job(APP, JOB, 7, "registry.example.com/shop:1.5.0", PROCESS_CR_UID)


def every_workload() -> Iterator[dict[str, Any]]:
    for process in ALL_PROCESSES:
        yield from objects(process, INGRESS)
    yield trigger_job()
    yield release_job()


def assert_matches_expected(name: str, manifests: list[dict[str, Any]]) -> None:
    path = EXPECTED / f"{name}.yaml"
    text = render.to_yaml(manifests)
    if UPDATE:
        path.write_text(text)
    assert list(yaml.safe_load_all(path.read_text())) == manifests
    assert path.read_text() == text


# --- expected manifests, one file per type and option ---------------------------------------


@pytest.mark.parametrize(
    ("name", "manifests"),
    [
        ("web_http_ingress", lambda: objects(WEB, INGRESS)),
        ("web_grpc_autoscaled", lambda: objects(GRPC, INGRESS)),
        ("worker", lambda: objects(WORKER)),
        ("worker_autoscaled", lambda: objects(AUTOSCALED_WORKER)),
        ("cron", lambda: objects(CRON)),
        ("cron_trigger_job", lambda: [trigger_job()]),
        ("job_release", lambda: [release_job()]),
        ("application", lambda: render.render_application(APP, ONE_APP, INGRESS)),
        (
            "application_without_image",
            lambda: render.render_application(msgspec.structs.replace(APP, image=None), [WEB, WORKER]),
        ),
    ],
)
def test_render_matches_expected(name: str, manifests: Any) -> None:
    assert_matches_expected(name, manifests())


def test_each_type_renders_the_mapped_kinds() -> None:
    assert kinds(objects(WEB)) == ["Deployment", "Service", "PodDisruptionBudget"]
    assert kinds(objects(WEB, INGRESS)) == ["Deployment", "Service", "PodDisruptionBudget", "Ingress"]
    assert kinds(objects(GRPC)) == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    assert kinds(objects(WORKER)) == ["Deployment"]
    assert kinds(objects(AUTOSCALED_WORKER)) == ["Deployment", "HorizontalPodAutoscaler"]
    assert kinds(objects(CRON)) == ["CronJob"]
    assert objects(JOB) == []


def test_application_orders_owners_before_what_they_own() -> None:
    manifests = render.render_application(APP, [WORKER, WEB])
    assert kinds(manifests)[:3] == ["Application", "Namespace", "Secret"]
    names = [(m["kind"], m["metadata"]["name"]) for m in manifests[3:]]
    assert names == [
        ("Process", "shop-web"),
        ("Deployment", "shop-web"),
        ("Service", "shop-web"),
        ("PodDisruptionBudget", "shop-web"),
        ("Process", "shop-worker"),
        ("Deployment", "shop-worker"),
    ]


def test_application_uses_given_owner_uids() -> None:
    manifests = render.render_application(
        APP, [WORKER], application_cr_uid="app-uid", process_cr_uids={WORKER.id: "worker-uid"}
    )
    namespace, workload = manifests[1], manifests[-1]
    assert namespace["metadata"]["ownerReferences"][0]["uid"] == "app-uid"
    assert workload["metadata"]["ownerReferences"][0]["uid"] == "worker-uid"


# --- application-level objects --------------------------------------------------------------


def test_namespace_enforces_restricted_pod_security_and_is_owned_by_the_application() -> None:
    namespace = render.render_namespace(APP, "app-uid")
    assert namespace["metadata"]["name"] == "shop-k3x9qa"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespace["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "procplane.dev/v1alpha1",
            "kind": "Application",
            "name": "shop-k3x9qa",
            "uid": "app-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_config_secret_holds_every_config_var_base64_encoded() -> None:
    app = msgspec.structs.replace(APP, config_vars={"B": "two words", "A": "ünïcode", "EMPTY": ""})
    secret = render.render_config_secret(app)
    assert secret["metadata"]["name"] == "shop-config"
    assert secret["metadata"]["namespace"] == "shop-k3x9qa"
    assert list(secret["data"]) == ["A", "B", "EMPTY"]
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded == {"A": "ünïcode", "B": "two words", "EMPTY": ""}
    assert "stringData" not in secret


def test_config_secret_without_vars_is_still_rendered_so_envfrom_resolves() -> None:
    secret = render.render_config_secret(msgspec.structs.replace(APP, config_vars={}))
    assert secret["data"] == {}


def test_process_cr_carries_the_spec_generation() -> None:
    cr = render.render_process_cr(APP, msgspec.structs.replace(WEB, generation=12))
    assert cr["metadata"]["annotations"] == {"procplane.dev/generation": "12"}
    assert cr["metadata"]["namespace"] == APP.namespace
    assert "ownerReferences" not in cr


# --- pods: security, resources, environment -------------------------------------------------


WORKLOADS = [m for m in every_workload() if m["kind"] in ("Deployment", "CronJob", "Job")]


@pytest.mark.parametrize("manifest", WORKLOADS, ids=lambda m: f"{m['kind']}-{m['metadata']['name']}")
def test_every_pod_meets_the_restricted_profile(manifest: dict[str, Any]) -> None:
    pod = pod_spec_of(manifest)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "volumes"):
        assert forbidden not in pod
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "privileged" not in context
        assert "add" not in context["capabilities"]
        resources = container["resources"]
        assert resources["requests"] == resources["limits"]


def test_resources_come_from_the_resource_type() -> None:
    container = pod_spec_of(deployment(GRPC))["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


@pytest.mark.parametrize(("millicores", "cpu"), [(1, "1m"), (250, "250m"), (1000, "1"), (1500, "1500m"), (4000, "4")])
def test_cpu_quantities_are_canonical(millicores: int, cpu: str) -> None:
    assert render_pod.cpu_quantity(millicores) == cpu


@pytest.mark.parametrize(
    ("megabytes", "memory"),
    [(1, "1Mi"), (512, "512Mi"), (1024, "1Gi"), (1536, "1536Mi"), (8192, "8Gi"), (1024 * 1024, "1Ti")],
)
def test_memory_quantities_are_canonical(megabytes: int, memory: str) -> None:
    assert render_pod.memory_quantity(megabytes) == memory


def test_run_as_user_option_sets_user_group_and_fs_group() -> None:
    pod = pod_spec_of(deployment(WORKER, spec.RenderOptions(run_as_user=10001)))
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
    }


def test_image_pull_secrets_option() -> None:
    pod = pod_spec_of(deployment(WORKER, spec.RenderOptions(image_pull_secrets=("registry",))))
    assert pod["imagePullSecrets"] == [{"name": "registry"}]


def test_web_gets_port_env_and_config_from_the_secret() -> None:
    container = pod_spec_of(deployment(GRPC))["containers"][0]
    assert container["env"] == [{"name": "PORT", "value": "9090"}]
    assert container["envFrom"] == [{"secretRef": {"name": "shop-config"}}]
    assert container["ports"] == [{"name": "grpc", "containerPort": 9090, "protocol": "TCP"}]


def test_worker_gets_no_port_and_no_probes_even_if_given() -> None:
    worker = msgspec.structs.replace(WORKER, liveness_probe={"exec": {"command": ["true"]}})
    container = pod_spec_of(deployment(worker))["containers"][0]
    assert "env" not in container
    assert "ports" not in container
    assert "livenessProbe" not in container
    assert container["envFrom"] == [{"secretRef": {"name": "shop-config"}}]


def test_web_probes_are_passed_through() -> None:
    container = pod_spec_of(deployment(WEB))["containers"][0]
    assert container["livenessProbe"] == WEB.liveness_probe
    assert container["readinessProbe"] == WEB.readiness_probe


def test_entrypoint_runs_through_a_shell_and_is_optional() -> None:
    container = pod_spec_of(deployment(WORKER))["containers"][0]
    assert container["command"] == ["/bin/sh", "-c", "celery -A shop worker"]
    without = pod_spec_of(deployment(msgspec.structs.replace(WORKER, entrypoint=None)))["containers"][0]
    assert "command" not in without


def test_pods_run_the_applications_current_image() -> None:
    app = msgspec.structs.replace(APP, image="registry.example.com/shop:2.0.0")
    for process in (WEB, WORKER, CRON):
        for manifest in objects(process, app=app):
            if manifest["kind"] in ("Deployment", "CronJob"):
                assert pod_spec_of(manifest)["containers"][0]["image"] == "registry.example.com/shop:2.0.0"


# --- config hash ----------------------------------------------------------------------------


@pytest.mark.parametrize("process", [WEB, WORKER, CRON], ids=lambda p: p.key)
def test_config_hash_changes_when_a_config_var_changes(process: spec.ProcessSpec) -> None:
    def hash_for(app: spec.ApplicationSpec) -> str:
        return config_hash(objects(process, app=app)[0])

    base = hash_for(APP)
    changed = hash_for(msgspec.structs.replace(APP, config_vars={**APP.config_vars, "LOG_LEVEL": "debug"}))
    added = hash_for(msgspec.structs.replace(APP, config_vars={**APP.config_vars, "NEW": "1"}))
    removed = hash_for(msgspec.structs.replace(APP, config_vars={"LOG_LEVEL": "info"}))
    assert len({base, changed, added, removed}) == 4
    reordered = dict(reversed(list(APP.config_vars.items())))
    assert hash_for(msgspec.structs.replace(APP, config_vars=reordered)) == base
    assert re.fullmatch(r"[0-9a-f]{64}", base)


def test_config_hash_follows_pod_inputs_and_ignores_the_rest() -> None:
    base = config_hash(deployment(WEB))
    unrelated = [
        msgspec.structs.replace(WEB, display_name="Storefront"),
        msgspec.structs.replace(WEB, scaling=spec.ManualScaling(instance_count=7)),
        msgspec.structs.replace(WEB, generation=99),
        msgspec.structs.replace(WEB, is_ingress_enabled=False),
    ]
    for process in unrelated:
        assert config_hash(deployment(process)) == base
    pod_inputs = [
        msgspec.structs.replace(WEB, entrypoint="bin/web"),
        msgspec.structs.replace(WEB, cpu_millicores=250),
        msgspec.structs.replace(WEB, memory_mb=256),
        msgspec.structs.replace(WEB, port=3000),
        msgspec.structs.replace(WEB, readiness_probe=None),
    ]
    for process in pod_inputs:
        assert config_hash(deployment(process)) != base
    other_image = msgspec.structs.replace(APP, image="registry.example.com/shop:9")
    assert config_hash(objects(WEB, app=other_image)[0]) != base


# --- scaling --------------------------------------------------------------------------------


def test_manual_scaling_sets_replicas_and_no_hpa() -> None:
    assert deployment(WEB)["spec"]["replicas"] == 2
    assert "HorizontalPodAutoscaler" not in kinds(objects(WEB))


def test_horizontal_scaling_leaves_replicas_to_the_hpa() -> None:
    for process in (GRPC, AUTOSCALED_WORKER):
        assert "replicas" not in deployment(process)["spec"]
        assert "HorizontalPodAutoscaler" in kinds(objects(process))


def test_hpa_behavior_comes_from_intervals_and_increments() -> None:
    hpa = by_kind(objects(GRPC))["HorizontalPodAutoscaler"]
    assert hpa["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 600,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}],
        },
    }
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop-api"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)


def test_hpa_intervals_beyond_kubernetes_bounds_are_clamped() -> None:
    scaling = spec.HorizontalScaling(
        min_instance_count=1,
        max_instance_count=3,
        scale_up_interval_seconds=60000,
        scale_down_interval_seconds=60000,
    )
    behavior = render_workloads.hpa_behavior(scaling)
    assert behavior["scaleUp"]["policies"][0]["periodSeconds"] == 1800
    assert behavior["scaleDown"]["policies"][0]["periodSeconds"] == 1800
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 3600


def test_hpa_metrics_follow_targets_with_a_cpu_default() -> None:
    metrics = by_kind(objects(GRPC))["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert [(m["resource"]["name"], m["resource"]["target"]["averageUtilization"]) for m in metrics] == [
        ("cpu", 70),
        ("memory", 80),
    ]
    memory_only = by_kind(objects(AUTOSCALED_WORKER))["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert [m["resource"]["name"] for m in memory_only] == ["memory"]
    untargeted = msgspec.structs.replace(
        AUTOSCALED_WORKER, scaling=spec.HorizontalScaling(min_instance_count=1, max_instance_count=2)
    )
    default = by_kind(objects(untargeted))["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert default == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}
    ]


def test_hpa_minimum_is_at_least_one_instance() -> None:
    hpa = by_kind(objects(AUTOSCALED_WORKER))["HorizontalPodAutoscaler"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)


def test_horizontal_scaling_with_zero_maximum_renders_zero_replicas_without_hpa() -> None:
    stopped = msgspec.structs.replace(GRPC, scaling=spec.HorizontalScaling(min_instance_count=0, max_instance_count=0))
    assert kinds(objects(stopped)) == ["Deployment", "Service"]
    assert deployment(stopped)["spec"]["replicas"] == 0


@pytest.mark.parametrize("process", [WEB, GRPC, WORKER, AUTOSCALED_WORKER], ids=lambda p: p.key)
def test_suspended_processes_run_zero_replicas_without_hpa_or_pdb(process: spec.ProcessSpec) -> None:
    suspended = msgspec.structs.replace(process, suspended=True)
    rendered = kinds(objects(suspended))
    assert "HorizontalPodAutoscaler" not in rendered
    assert "PodDisruptionBudget" not in rendered
    assert deployment(suspended)["spec"]["replicas"] == 0


@pytest.mark.parametrize(
    ("scaling", "wanted"),
    [
        (spec.ManualScaling(instance_count=0), False),
        (spec.ManualScaling(instance_count=1), False),
        (spec.ManualScaling(instance_count=2), True),
        (spec.HorizontalScaling(min_instance_count=1, max_instance_count=5), False),
        (spec.HorizontalScaling(min_instance_count=3, max_instance_count=5), True),
    ],
)
def test_pdb_only_when_more_than_one_instance(scaling: spec.Scaling, wanted: bool) -> None:
    rendered = objects(msgspec.structs.replace(WEB, scaling=scaling))
    assert ("PodDisruptionBudget" in kinds(rendered)) is wanted


def test_pdb_allows_one_unavailable_and_evicting_unhealthy_pods() -> None:
    pdb = by_kind(objects(WEB))["PodDisruptionBudget"]
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {labels.PROCESS_ID: WEB.id}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


# --- services and ingress -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "app_protocol", "port_name"),
    [("http", "http", "http"), ("grpc", "kubernetes.io/h2c", "grpc")],
)
def test_service_app_protocol(protocol: states.IngressProtocol, app_protocol: str, port_name: str) -> None:
    service = by_kind(objects(msgspec.structs.replace(WEB, ingress_protocol=protocol)))["Service"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": port_name, "port": 8080, "targetPort": 8080, "protocol": "TCP", "appProtocol": app_protocol}
    ]


def test_ingress_needs_both_the_process_flag_and_a_configured_class() -> None:
    assert "Ingress" not in kinds(objects(WEB))
    assert "Ingress" not in kinds(objects(msgspec.structs.replace(WEB, is_ingress_enabled=False), INGRESS))
    assert "Ingress" in kinds(objects(WEB, spec.RenderOptions(ingress_class="nginx")))


def test_ingress_without_domain_has_no_host_and_no_tls() -> None:
    ingress = by_kind(objects(WEB, spec.RenderOptions(ingress_class="traefik")))["Ingress"]
    assert ingress["spec"] == {
        "ingressClassName": "traefik",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "shop-web", "port": {"number": 8080}}},
                        }
                    ]
                }
            }
        ],
    }
    assert "annotations" not in ingress["metadata"]


def test_grpc_ingress_adds_the_grpc_annotations_only_for_grpc() -> None:
    grpc = by_kind(objects(GRPC, INGRESS))["Ingress"]["metadata"]["annotations"]
    http = by_kind(objects(WEB, INGRESS))["Ingress"]["metadata"]["annotations"]
    assert grpc["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in http
    assert http == {"example.com/owner": "platform"}


def test_internal_hostname() -> None:
    options = spec.RenderOptions(cluster_domain="k8s.example")
    assert labels.internal_hostname(APP, WEB, spec.RenderOptions()) == "shop-web.shop-k3x9qa.svc.cluster.local"
    assert labels.internal_hostname(APP, WEB, options) == "shop-web.shop-k3x9qa.svc.k8s.example"


# --- cron and jobs --------------------------------------------------------------------------


def test_cronjob_schedule_time_zone_and_defaults() -> None:
    cronjob = by_kind(objects(CRON))["CronJob"]["spec"]
    assert cronjob["schedule"] == "*/15 * * * *"
    assert cronjob["timeZone"] == "America/New_York"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert (cronjob["successfulJobsHistoryLimit"], cronjob["failedJobsHistoryLimit"]) == (3, 1)
    assert cronjob["suspend"] is False
    job = cronjob["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2
    assert job["activeDeadlineSeconds"] == 600
    assert "ttlSecondsAfterFinished" not in job
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_cronjob_options_and_suspend() -> None:
    options = spec.RenderOptions(
        cron_concurrency_policy="Replace",
        successful_jobs_history_limit=5,
        failed_jobs_history_limit=2,
        cron_starting_deadline_seconds=120,
        cron_job_ttl_seconds=300,
    )
    suspended = msgspec.structs.replace(CRON, suspended=True, time_zone=None)
    cronjob = by_kind(objects(suspended, options))["CronJob"]["spec"]
    assert cronjob["concurrencyPolicy"] == "Replace"
    assert cronjob["startingDeadlineSeconds"] == 120
    assert (cronjob["successfulJobsHistoryLimit"], cronjob["failedJobsHistoryLimit"]) == (5, 2)
    assert cronjob["suspend"] is True
    assert "timeZone" not in cronjob
    assert cronjob["jobTemplate"]["spec"]["ttlSecondsAfterFinished"] == 300


def test_cron_without_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="has no schedule"):
        objects(msgspec.structs.replace(CRON, schedule=None))


def test_trigger_job_is_the_cronjob_template_owned_by_the_cronjob() -> None:
    cronjob = by_kind(objects(CRON))["CronJob"]
    job = trigger_job()
    assert job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["name"] == "shop-report-manual-29000000"
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "shop-report",
            "uid": CRONJOB_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_trigger_job_reads_the_uid_from_a_live_cronjob_and_does_not_alias_it() -> None:
    cronjob = by_kind(objects(CRON))["CronJob"]
    cronjob["metadata"]["uid"] = "live-uid"
    job = render.render_trigger_job(APP, CRON, cronjob, "x")
    assert job["metadata"]["ownerReferences"][0]["uid"] == "live-uid"
    job["spec"]["backoffLimit"] = 99
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 2


def test_trigger_job_refuses_without_uid_or_for_non_cron() -> None:
    cronjob = by_kind(objects(CRON))["CronJob"]
    with pytest.raises(ValueError, match="uid"):
        render.render_trigger_job(APP, CRON, cronjob, "x")
    with pytest.raises(ValueError, match="not a cron process"):
        render.render_trigger_job(APP, WORKER, cronjob, "x", cronjob_uid="u")


def test_trigger_job_name_is_deterministic_and_fits() -> None:
    long_app = msgspec.structs.replace(APP, name="a" * 40)
    long_cron = msgspec.structs.replace(CRON, key="nightly-" + "b" * 14)
    cronjob = by_kind(objects(long_cron, app=long_app))["CronJob"]
    first = render.render_trigger_job(long_app, long_cron, cronjob, "manual-29000001", cronjob_uid="u")
    again = render.render_trigger_job(long_app, long_cron, cronjob, "manual-29000001", cronjob_uid="u")
    other = render.render_trigger_job(long_app, long_cron, cronjob, "manual-29000002", cronjob_uid="u")
    name = first["metadata"]["name"]
    assert name == again["metadata"]["name"]
    assert name != other["metadata"]["name"]
    assert len(name) <= 63
    assert name.endswith("-manual-29000001")
    assert DNS_LABEL.match(name)


def test_release_job_name_limits_and_labels() -> None:
    job = release_job()
    assert job["metadata"]["name"] == "shop-release-r7"
    assert job["metadata"]["labels"]["procplane.dev/release"] == "7"
    assert job["spec"]["template"]["metadata"]["labels"]["procplane.dev/release"] == "7"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert pod_spec_of(job)["restartPolicy"] == "Never"
    assert pod_spec_of(job)["containers"][0]["image"] == "registry.example.com/shop:1.5.0"


def test_release_job_runs_even_before_the_application_has_an_image() -> None:
    app = msgspec.structs.replace(APP, image=None)
    job = render.render_release_job(app, JOB, 1, "registry.example.com/shop:0.1.0", PROCESS_CR_UID)
    assert pod_spec_of(job)["containers"][0]["image"] == "registry.example.com/shop:0.1.0"


def test_release_job_only_for_job_processes() -> None:
    with pytest.raises(ValueError, match="not a job process"):
        render.render_release_job(APP, CRON, 1, "img", PROCESS_CR_UID)


# --- names, labels, owners ------------------------------------------------------------------


def test_names_fit_kubernetes_limits_for_the_longest_allowed_names() -> None:
    app = msgspec.structs.replace(APP, name="a" * 30, namespace="a" * 30 + "-k3x9qa")
    for process in ALL_PROCESSES:
        longest = msgspec.structs.replace(process, key=process.key + "-" + "k" * (32 - len(process.key) - 1))
        assert len(labels.process_name(app, longest)) == 63
        rendered = objects(longest, INGRESS, app=app)
        if longest.type == "cron":
            cronjob = by_kind(rendered)["CronJob"]
            assert len(cronjob["metadata"]["name"]) <= 52
            rendered.append(render.render_trigger_job(app, longest, cronjob, "manual-29000000", cronjob_uid="u"))
        if longest.type == "job":
            rendered.append(render.render_release_job(app, longest, 123456, "img", PROCESS_CR_UID))
        for manifest in [*rendered, render.render_process_cr(app, longest)]:
            name = manifest["metadata"]["name"]
            assert len(name) <= 63, name
            assert DNS_LABEL.match(name), name
            for value in manifest["metadata"]["labels"].values():
                assert len(value) <= 63


def test_fit_name_is_deterministic_distinct_and_bounded() -> None:
    assert labels.fit_name("shop-web", "r1") == "shop-web-r1"
    assert labels.fit_name("shop-web") == "shop-web"
    long_a, long_b = "x" * 60 + "-a", "x" * 60 + "-b"
    assert labels.fit_name(long_a, "r10") == labels.fit_name(long_a, "r10")
    assert labels.fit_name(long_a, "r10") != labels.fit_name(long_b, "r10")
    assert len(labels.fit_name(long_a, "r10")) == 63
    assert len(labels.fit_name(long_a, limit=52)) == 52
    with pytest.raises(ValueError, match="no room"):
        labels.fit_name("base", "s" * 60)


def test_every_object_has_recommended_labels_and_is_owned_by_its_process() -> None:
    for process in ALL_PROCESSES:
        for manifest in objects(process, INGRESS):
            assert manifest["metadata"]["namespace"] == APP.namespace
            assert manifest["metadata"]["labels"] == {
                "app.kubernetes.io/name": process.key,
                "app.kubernetes.io/instance": f"shop-{process.key}",
                "app.kubernetes.io/component": process.type,
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/managed-by": "procplane",
                "procplane.dev/application-id": APP_ID,
                "procplane.dev/process-id": process.id,
            }
            assert manifest["metadata"]["ownerReferences"] == [
                {
                    "apiVersion": "procplane.dev/v1alpha1",
                    "kind": "Process",
                    "name": f"shop-{process.key}",
                    "uid": PROCESS_CR_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]


def test_selectors_use_only_the_process_id_and_match_the_pods() -> None:
    for process in (WEB, GRPC, WORKER):
        rendered = by_kind(objects(process))
        pod_labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
        selectors = [rendered["Deployment"]["spec"]["selector"]["matchLabels"]]
        if "Service" in rendered:
            selectors.append(rendered["Service"]["spec"]["selector"])
        for selector in selectors:
            assert selector == {"procplane.dev/process-id": process.id}
            assert selector.items() <= pod_labels.items()


# --- images and purity ----------------------------------------------------------------------


def test_without_an_image_no_workload_is_rendered() -> None:
    app = msgspec.structs.replace(APP, image=None)
    assert render.workloads_blocked_reason(app) is not None
    assert render.workloads_blocked_reason(APP) is None
    for process in ALL_PROCESSES:
        assert render.render_process_objects(app, process, spec.RenderOptions(), PROCESS_CR_UID) == []
    manifests = render.render_application(app, ALL_PROCESSES)
    assert kinds(manifests) == ["Application", "Namespace", "Secret"] + ["Process"] * len(ALL_PROCESSES)
    assert "image" not in manifests[0]["spec"]


def test_rendering_is_deterministic() -> None:
    first = render.to_yaml(render.render_application(APP, ALL_PROCESSES, INGRESS))
    second = render.to_yaml(render.render_application(APP, tuple(reversed(ALL_PROCESSES)), INGRESS))
    assert first == second


def test_process_spec_decodes_from_json_with_tagged_scaling() -> None:
    raw = {
        "id": WEB.id,
        "app_id": APP_ID,
        "key": "web",
        "type": "web",
        "display_name": "Web",
        "resource_type_name": "s1",
        "cpu_millicores": 500,
        "memory_mb": 512,
        "scaling": {"type": "horizontal", "min_instance_count": 1, "max_instance_count": 3},
    }
    decoded = msgspec.convert(raw, spec.ProcessSpec)
    assert decoded.scaling == spec.HorizontalScaling(min_instance_count=1, max_instance_count=3)
    assert msgspec.convert({**raw, "scaling": {"type": "manual", "instance_count": 2}}, spec.ProcessSpec).scaling == (
        spec.ManualScaling(instance_count=2)
    )


# --- the install id ----------------------------------------------------------------------------


def test_every_object_and_every_template_of_pods_and_jobs_carries_the_install_id() -> None:
    options = msgspec.structs.replace(INGRESS, install_id="blue")
    manifests = render.render_application(APP, ALL_PROCESSES, options)
    templates = []
    for manifest in manifests:
        assert manifest["metadata"]["labels"][labels.INSTALL_ID] == "blue", manifest["metadata"]["name"]
        spec_ = manifest.get("spec") or {}
        if "template" in spec_:
            templates.append(spec_["template"])
        if "jobTemplate" in spec_:
            templates += [spec_["jobTemplate"], spec_["jobTemplate"]["spec"]["template"]]
    assert {t["metadata"]["labels"][labels.INSTALL_ID] for t in templates} == {"blue"}
    # A Deployment's pod template; a CronJob's Job template and its pod template.
    assert len(templates) == kinds(manifests).count("Deployment") + 2 * kinds(manifests).count("CronJob")


def test_labelling_with_the_install_id_leaves_the_rendered_manifest_as_it_was() -> None:
    cronjob = by_kind(objects(CRON))["CronJob"]
    before = yaml.safe_dump(cronjob)
    owned = labels.owned_by_install(cronjob, "green")
    assert yaml.safe_dump(cronjob) == before
    assert owned["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"][labels.INSTALL_ID] == "green"
    assert labels.install_selector("green", labels.PROCESS_ID) == f"{labels.PROCESS_ID},{labels.INSTALL_ID}=green"
