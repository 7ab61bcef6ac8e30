"""checkov over the rendered chart and over the manifests the reconciler renders: zero failed
checks. A skipped check is justified where it is skipped: in the chart, by a `checkov.io/skip`
annotation on the object; for the reconciler's manifests, in RECONCILER_SKIPS below."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
from pathlib import Path
from typing import Any

from controlplane.domain import spec, states
from reconciler.render import jobs as render_jobs
from reconciler.render import manifests as render
from tests.helm.chart import CHART, checkov_binary, helm, values_args
from tests.helm.test_chart import SCENARIOS

APP_ID = "0b6c3e44-6a53-4bde-9a8e-4f5b4c1d2e3f"
CR_UID = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"

# Checks the reconciler's manifests do not pass, each with the reason it is accepted.
RECONCILER_SKIPS = {
    # The image is the user's choice, given as a tag (nginx:1.27); procplane runs what it is given.
    "CKV_K8S_43": "image digest",
    # Pull policy is left to Kubernetes' default for the user's tag (IfNotPresent unless :latest).
    "CKV_K8S_15": "image pull policy Always",
    # Workers, cron and job processes serve no traffic; web probes are the user's (liveness_probe,
    # readiness_probe) and optional, as on Heroku and Render.
    "CKV_K8S_8": "liveness probe",
    "CKV_K8S_9": "readiness probe",
    # Procfile apps write temporary files and caches; the restricted profile does not require a
    # read-only root filesystem (reconciler/render_pod.py).
    "CKV_K8S_22": "read-only root filesystem",
    # The UID is the image's own; runAsNonRoot is enforced, a fixed high UID would break images
    # built for another one.
    "CKV_K8S_40": "high UID",
    # Config vars reach the app as environment variables (envFrom the config Secret): the
    # twelve-factor contract procplane implements.
    "CKV_K8S_35": "secrets as files",
    # The reconciler renders no NetworkPolicy yet; application network isolation is a separate,
    # operator-level feature.
    "CKV2_K8S_6": "NetworkPolicy per pod",
}


def reconciler_manifests() -> list[dict[str, Any]]:
    """Every kind the reconciler renders: web (autoscaled, ingress, probes, PDB), worker, cron
    and its triggered Job, and a release Job."""
    app = spec.ApplicationSpec(
        id=APP_ID, name="shop", namespace="shop-a1b2c3", image="registry.example.com/shop:1.4.2",
        config_vars={"DATABASE_URL": "postgres://db/shop"},
    )  # fmt: skip

    def process(key: str, type_: str, number: int, **fields: Any) -> spec.ProcessSpec:
        return spec.ProcessSpec(
            id=f"00000000-0000-4000-8000-00000000000{number}", app_id=APP_ID, key=key, type=states.ProcessType(type_),
            display_name=key, resource_type_name="s1", cpu_millicores=500, memory_mb=512, **fields,
        )  # fmt: skip

    probe = {"httpGet": {"path": "/health", "port": 8080}}
    processes = [
        process("web", "web", 1, entrypoint="gunicorn app", is_ingress_enabled=True, liveness_probe=probe,
                readiness_probe=probe, scaling=spec.HorizontalScaling(min_instance_count=2, max_instance_count=6,
                                                                      target_cpu_percent=75)),
        process("worker", "worker", 2, entrypoint="celery worker", scaling=spec.ManualScaling(instance_count=3)),
        process("report", "cron", 3, entrypoint="report", schedule="0 6 * * *", time_zone="UTC"),
        process("release", "job", 4, entrypoint="migrate", job_start_policy="beforeDeployment"),
    ]  # fmt: skip
    options = spec.RenderOptions(ingress_class="nginx", ingress_domain="apps.example.com")
    manifests = render.render_application(app, processes, options)
    cronjob = next(m for m in manifests if m["kind"] == "CronJob")
    manifests.append(render_jobs.render_trigger_job(app, processes[2], {**cronjob, "metadata": {
        **cronjob["metadata"], "uid": CR_UID}}, "run12345"))  # fmt: skip
    manifests.append(render.render_release_job(app, processes[3], 7, app.image or "", CR_UID, options))
    return manifests


def run_checkov(directory: Path, skips: dict[str, str]) -> dict[str, Any]:
    command = [str(checkov_binary()), "-d", str(directory), "--framework", "kubernetes", "--output", "json",
               "--compact", "--skip-download"]  # fmt: skip
    if skips:
        command += ["--skip-check", ",".join(sorted(skips))]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']} ({check['check_name']})"
        for check in report["results"]["failed_checks"]
    ]


def test_checkov_passes_the_chart_and_the_reconcilers_manifests(tmp_path: Path) -> None:
    chart_dir, reconciler_dir = tmp_path / "chart", tmp_path / "reconciler"
    chart_dir.mkdir()
    reconciler_dir.mkdir()
    for scenario in SCENARIOS:
        out = helm("template", "pp", str(CHART), "--namespace", "procplane", *values_args(scenario)).stdout
        (chart_dir / f"{scenario}.yaml").write_text(out)
    manifests = reconciler_manifests()
    assert {m["kind"] for m in manifests} >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Ingress",
        "PodDisruptionBudget",
        "CronJob",
        "Job",
        "Secret",
        "Namespace",
    }
    (reconciler_dir / "application.yaml").write_text(render.to_yaml(manifests))

    # Three checkov runs side by side: each spends most of its time starting up.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(run_checkov, chart_dir, {}), pool.submit(run_checkov, reconciler_dir, RECONCILER_SKIPS),
                pool.submit(run_checkov, reconciler_dir, {})]  # fmt: skip
        chart, reconciler, unskipped = (run.result() for run in runs)
    assert failures(chart) == []
    assert chart["summary"]["passed"] > 500
    skipped = {(c["check_id"], c["resource"]) for c in chart["results"]["skipped_checks"]}
    # Every chart skip is one of the annotated, justified ones.
    assert {check for check, _ in skipped} <= {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_35", "CKV_K8S_38", "CKV_K8S_43"}
    # Every long-running pod is probed (the reconciler too): only the one-shot `helm test` pod
    # goes without liveness and readiness probes.
    unprobed = {resource for check, resource in skipped if check in ("CKV_K8S_8", "CKV_K8S_9")}
    assert unprobed, "the helm test pod's skips are expected"
    assert all(resource.startswith("Pod.") and "test-readyz" in resource for resource in unprobed), unprobed

    assert failures(reconciler) == []
    assert reconciler["summary"]["passed"] > 100
    # Every skip is still needed: without them, exactly the skipped checks fail.
    assert {line.split()[0] for line in failures(unskipped)} == set(RECONCILER_SKIPS)
