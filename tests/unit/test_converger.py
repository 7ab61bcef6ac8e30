"""One reconcile pass (`Converger.converge`) against `FakeKube`, with the real render code and the
real informer cache: the first pass applies the desired objects, a second pass over the same
state writes nothing, hand edits are reverted, and what is no longer desired is deleted.

The informers do not run their watch threads here: `resync` makes each one re-list the fake
cluster, which leaves the cache exactly as the watch events of the changes would have."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controlplane.domain import spec
from controlplane.domain.desired import Desired
from reconciler.converge.converger import PRUNABLE_KINDS, Converger, watched_kinds
from reconciler.k8s.cache import ClusterCache
from reconciler.k8s.client import object_key
from reconciler.render import labels
from reconciler.render import manifests as render
from tests.unit.fakes import FakeKube, ObjectKey
from tests.unit.specs import APP_ID, process_spec

NAMESPACE = "shop-k3x9qa"
APP = spec.ApplicationSpec(
    id=APP_ID,
    name="shop",
    namespace=NAMESPACE,
    image="registry.example.com/shop:1.4.2",
    config_vars={"DATABASE_URL": "postgres://db.internal/shop", "LOG_LEVEL": "info"},
)
OPTIONS = spec.RenderOptions()
# In key order, which is also the order `render_application` lists their objects in.
CRON = process_spec("nightly", "cron", id="0b5a1c3e-8d7f-4e2a-9c6b-5a4d3e2f1a0b", schedule="0 3 * * *")
WEB = process_spec(
    "web", "web", id="3c0e5a7b-1d2f-4e6a-9b8c-7d6e5f4a3b2c", scaling=spec.ManualScaling(instance_count=2)
)
WORKER = process_spec(
    "worker",
    "worker",
    id="7e6d5c4b-3a2f-4e1d-8c0b-9a8f7e6d5c4b",
    scaling=spec.HorizontalScaling(min_instance_count=1, max_instance_count=4, target_cpu_percent=70),
)
ALL = (CRON, WEB, WORKER)


def desired(*processes: spec.ProcessSpec, app: spec.ApplicationSpec = APP) -> Desired:
    return Desired(app=app, processes=list(processes), pending_runs=[])


def resync(cache: ClusterCache) -> None:
    """Bring every informer up to date with the fake cluster, as its watch would."""
    for informer in cache.informers.values():
        informer._relist()


def new_cache(kube: FakeKube) -> ClusterCache:
    cache = ClusterCache(kube, watched_kinds(OPTIONS.install_id), lambda obj: None)
    resync(cache)
    return cache


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def converger(kube: FakeKube) -> Converger:
    return Converger(kube, new_cache(kube), OPTIONS)


def uid(kube: FakeKube, key: ObjectKey) -> str:
    value: str = kube.objects[key]["metadata"]["uid"]
    return value


def rendered(kube: FakeKube, *processes: spec.ProcessSpec, app: spec.ApplicationSpec = APP) -> list[dict[str, Any]]:
    """What the render code declares, with the uids the fake apiserver gave the owners."""
    return render.render_application(
        app,
        processes,
        OPTIONS,
        application_cr_uid=uid(kube, ("Application", "", NAMESPACE)),
        process_cr_uids={p.id: uid(kube, ("Process", NAMESPACE, labels.process_name(app, p))) for p in processes},
    )


def spec_writes(kube: FakeKube) -> list[tuple[str, str, str, str]]:
    """Writes other than Process CR status updates."""
    return [w for w in kube.write_keys() if w[1] != "Process/status"]


def status_writes(kube: FakeKube) -> list[tuple[str, str, str, str]]:
    return [w for w in kube.write_keys() if w[1] == "Process/status"]


def applies(manifests: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [("apply", *object_key(m)) for m in manifests]


def converged(kube: FakeKube, converger: Converger, *processes: spec.ProcessSpec) -> None:
    """A first pass over `processes`, then a clean write log."""
    converger.converge(APP_ID, desired(*processes))
    kube.writes.clear()


def test_first_pass_applies_every_desired_object_owners_first(kube: FakeKube, converger: Converger) -> None:
    report = converger.converge(APP_ID, desired(*ALL))

    manifests = rendered(kube, *ALL)
    kinds = [m["kind"] for m in manifests]
    assert kinds == [
        "Application", "Namespace", "Secret",
        "Process", "CronJob",
        "Process", "Deployment", "Service", "PodDisruptionBudget",
        "Process", "Deployment", "HorizontalPodAutoscaler",
    ]  # fmt: skip
    # Exactly the rendered objects, each once, each owner before what it owns.
    assert spec_writes(kube) == applies(manifests)
    # What the cluster holds is what the render code declared, with the owners' real uids.
    for manifest in manifests:
        assert kube.declared(object_key(manifest)) == manifest
    web_owner = kube.objects[("Deployment", NAMESPACE, "shop-web")]["metadata"]["ownerReferences"][0]
    assert web_owner["kind"] == "Process"
    assert web_owner["uid"] == uid(kube, ("Process", NAMESPACE, "shop-web"))
    assert report.applied == [key[1:] for key in applies(manifests)] + [
        ("Process/status", NAMESPACE, labels.process_name(APP, p)) for p in ALL
    ]
    assert report.deleted == []
    assert report.rejected == {}


def test_first_pass_publishes_each_process_status_to_its_cr_and_the_report(
    kube: FakeKube, converger: Converger
) -> None:
    report = converger.converge(APP_ID, desired(*ALL))

    assert status_writes(kube) == [("apply", "Process/status", NAMESPACE, labels.process_name(APP, p)) for p in ALL]
    web_status = kube.objects[("Process", NAMESPACE, "shop-web")]["status"]
    assert web_status["desiredInstances"] == 2
    assert web_status["internalHostname"] == labels.internal_hostname(APP, WEB, OPTIONS)
    assert {c["type"] for c in web_status["conditions"]} == {"Ready", "Progressing", "Degraded"}
    assert sorted(report.statuses) == sorted(p.id for p in ALL)
    assert report.statuses[WEB.id].state == web_status["state"]
    assert report.statuses[WEB.id].observed_generation == WEB.generation


def test_second_pass_over_the_same_state_sends_no_request(kube: FakeKube, converger: Converger) -> None:
    first = converger.converge(APP_ID, desired(*ALL))
    kube.writes.clear()
    requests = kube.requests.total

    second = converger.converge(APP_ID, desired(*ALL))

    assert kube.writes == []
    assert kube.requests.total == requests  # not even a read: the pass works from the caches
    assert second.applied == []
    assert second.deleted == []
    assert second.statuses == first.statuses


def test_second_pass_writes_nothing_after_the_caches_relist_the_cluster(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)
    # The cache now holds the apiserver's copies rather than the write-through ones.
    resync(converger.cache)

    report = converger.converge(APP_ID, desired(*ALL))

    assert kube.writes == []
    assert report.applied == []


def test_a_restarted_reconciler_reapplies_only_the_secret_it_cannot_read(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)

    restarted = Converger(kube, new_cache(kube), OPTIONS)
    restarted.converge(APP_ID, desired(*ALL))

    # Secrets are not watched: a fresh replica applies the config Secret once, then no more.
    assert kube.write_keys() == [("apply", "Secret", NAMESPACE, "shop-config")]
    kube.writes.clear()
    restarted.converge(APP_ID, desired(*ALL))
    assert kube.writes == []


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return found


HAND_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "image": lambda d: _container(d).update(image="registry.example.com/shop:hacked"),
    "replicas": lambda d: d["spec"].update(replicas=5),
    "privilege escalation": lambda d: _container(d)["securityContext"].update(allowPrivilegeEscalation=True),
    "label removed": lambda d: d["metadata"]["labels"].pop(labels.APPLICATION_ID),
    "sidecar added": lambda d: d["spec"]["template"]["spec"]["containers"].append({"name": "x", "image": "x"}),
    "env var removed": lambda d: _container(d).pop("env"),
}


@pytest.mark.parametrize("edit", HAND_EDITS.values(), ids=HAND_EDITS.keys())
def test_a_hand_edit_is_reverted_on_the_next_pass(
    kube: FakeKube, converger: Converger, edit: Callable[[dict[str, Any]], None]
) -> None:
    converged(kube, converger, *ALL)
    key = ("Deployment", NAMESPACE, "shop-web")
    kube.edit(*key, edit)
    resync(converger.cache)
    assert kube.declared(key) != next(m for m in rendered(kube, *ALL) if object_key(m) == key)

    report = converger.converge(APP_ID, desired(*ALL))

    assert spec_writes(kube) == [("apply", *key)]
    assert key in report.applied
    assert kube.declared(key) == next(m for m in rendered(kube, *ALL) if object_key(m) == key)
    # Besides the revert, at most the web process's status (it now reports the new generation).
    assert set(status_writes(kube)) <= {("apply", "Process/status", NAMESPACE, "shop-web")}

    kube.writes.clear()
    resync(converger.cache)
    converger.converge(APP_ID, desired(*ALL))
    assert kube.writes == []


def test_a_hand_deleted_object_is_recreated(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)
    del kube.objects[("Service", NAMESPACE, "shop-web")]
    resync(converger.cache)

    converger.converge(APP_ID, desired(*ALL))

    assert spec_writes(kube) == [("apply", "Service", NAMESPACE, "shop-web")]
    assert ("Service", NAMESPACE, "shop-web") in kube.objects


def test_fields_procplane_does_not_declare_are_not_drift(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)

    def other_managers(deployment: dict[str, Any]) -> None:
        deployment["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
        deployment["metadata"]["labels"]["team"] = "payments"
        # An HPA scales the worker: procplane leaves replicas out of what it applies.
        deployment["spec"]["replicas"] = 3
        deployment["status"] = {"observedGeneration": 1, "replicas": 2}

    kube.edit("Deployment", NAMESPACE, "shop-worker", other_managers)
    resync(converger.cache)

    converger.converge(APP_ID, desired(*ALL))

    assert spec_writes(kube) == []


def test_a_deleted_process_has_its_objects_deleted(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)
    process_cr = render.render_process_cr(APP, WORKER)
    worker_objects = [process_cr, *render.render_process_objects(APP, WORKER, OPTIONS, "any uid")]
    expected = sorted((("delete", *object_key(m)) for m in worker_objects), key=lambda w: PRUNABLE_KINDS.index(w[1]))
    assert [w[1] for w in expected] == ["Process", "Deployment", "HorizontalPodAutoscaler"]

    report = converger.converge(APP_ID, desired(CRON, WEB))

    assert kube.write_keys() == expected
    assert report.deleted == [w[1:] for w in expected]
    assert report.applied == []
    for manifest in worker_objects:
        assert object_key(manifest) not in kube.objects
    # The other processes keep everything they had.
    for manifest in rendered(kube, CRON, WEB):
        assert kube.declared(object_key(manifest)) == manifest

    kube.writes.clear()
    resync(converger.cache)
    converger.converge(APP_ID, desired(CRON, WEB))
    assert kube.writes == []


def test_objects_of_another_application_are_never_pruned(kube: FakeKube, converger: Converger) -> None:
    other_app = spec.ApplicationSpec(
        id="aa11bb22-cc33-4d44-8e55-ff6677889900", name="blog", namespace="blog-q8w2zz", image="blog:1"
    )
    other_web = process_spec("web", "web", id="bb22cc33-dd44-4e55-8f66-00778899aabb", app_id=other_app.id)
    converger.converge(other_app.id, desired(other_web, app=other_app))
    converged(kube, converger, *ALL)

    converger.converge(APP_ID, desired(WEB))

    deleted = {w[2] for w in kube.write_keys() if w[0] == "delete"}
    assert deleted == {NAMESPACE}
    assert ("Deployment", "blog-q8w2zz", "blog-web") in kube.objects


def test_a_deleted_application_has_its_application_cr_deleted_once(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)

    report = converger.converge(APP_ID, None)

    # Only the Application CR: it owns the namespace, and garbage collection removes the rest.
    assert kube.write_keys() == [("delete", "Application", "", NAMESPACE)]
    assert report.deleted == [("Application", "", NAMESPACE)]
    kube.writes.clear()
    converger.converge(APP_ID, None)
    assert kube.writes == []


def test_a_refused_object_is_reported_and_not_resent_until_its_spec_changes(
    kube: FakeKube, converger: Converger
) -> None:
    kube.refusals[("Deployment", "shop-worker")] = "spec.template.spec.containers[0].resources: Invalid value"

    report = converger.converge(APP_ID, desired(*ALL))

    assert report.rejected.keys() == {WORKER.id}
    assert "Invalid value" in report.rejected[WORKER.id]
    degraded = next(c for c in report.statuses[WORKER.id].conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ApplyRejected")
    assert ("Deployment", NAMESPACE, "shop-web") in kube.objects  # the other processes converge
    assert ("Deployment", NAMESPACE, "shop-worker") not in kube.objects

    kube.writes.clear()
    second = converger.converge(APP_ID, desired(*ALL))
    # The same manifest would be refused again: it is not sent, and nothing is pruned.
    assert kube.writes == []
    assert second.rejected.keys() == {WORKER.id}

    del kube.refusals[("Deployment", "shop-worker")]
    fixed = process_spec("worker", "worker", id=WORKER.id, scaling=WORKER.scaling, memory_mb=1024, generation=2)
    third = converger.converge(APP_ID, desired(CRON, WEB, fixed))
    assert ("apply", "Deployment", NAMESPACE, "shop-worker") in kube.write_keys()
    assert ("Deployment", NAMESPACE, "shop-worker") in kube.objects
    assert third.rejected == {}


def test_a_refused_update_keeps_the_objects_the_process_already_has(kube: FakeKube, converger: Converger) -> None:
    converged(kube, converger, *ALL)
    kube.refusals[("Deployment", "shop-worker")] = "spec.template: Invalid value"
    changed = process_spec("worker", "worker", id=WORKER.id, scaling=WORKER.scaling, memory_mb=1024, generation=2)

    report = converger.converge(APP_ID, desired(CRON, WEB, changed))

    assert report.rejected.keys() == {WORKER.id}
    # The HPA comes after the refused Deployment: it was not re-applied, and not pruned either.
    assert [w for w in kube.write_keys() if w[0] == "delete"] == []
    assert report.deleted == []
    assert ("HorizontalPodAutoscaler", NAMESPACE, "shop-worker") in kube.objects
    assert ("Deployment", NAMESPACE, "shop-worker") in kube.objects
