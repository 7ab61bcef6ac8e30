"""One reconcile pass over one application: desired objects in, cluster converged, status out.

The Kubernetes half (`converge`) is synchronous and runs in a worker thread; it reads live
objects from the informer caches and writes only what differs, so a pass over a converged
application sends no request. Objects whose spec the apiserver refuses (422 and the like) are
reported per process and not retried until the spec or the cluster changes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from reconciler import drift, errors, labels, render, render_jobs, spec
from reconciler.cache import ClusterCache
from reconciler.kube import Kube, object_key
from reconciler.source import Desired

logger = logging.getLogger("procplane.reconciler")

MANAGED = f"app.kubernetes.io/managed-by={labels.MANAGED_BY}"
# What the informers watch. Secrets are deliberately absent: procplane writes each application's
# config Secret but never reads Secrets, so it needs no permission to list them cluster-wide.
WATCHED_KINDS: dict[str, str | None] = {
    "Application": MANAGED,
    "Namespace": MANAGED,
    "Process": MANAGED,
    "Deployment": MANAGED,
    "Service": MANAGED,
    "HorizontalPodAutoscaler": MANAGED,
    "PodDisruptionBudget": MANAGED,
    "Ingress": MANAGED,
    "CronJob": MANAGED,
    "Pod": labels.PROCESS_ID,
}
# Per-process kinds that disappear when no longer desired. Namespace, Secret and the Application
# CR go only with the application; Jobs go with their owners through garbage collection.
PRUNABLE_KINDS = (
    "Process",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "CronJob",
)


@dataclass
class PassReport:
    applied: list[tuple[str, str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str, str]] = field(default_factory=list)
    # process id -> the apiserver's refusal of that process's objects
    rejected: dict[str, str] = field(default_factory=dict)
    # process id -> name of the triggered Job, per pending run id
    started_runs: dict[str, str] = field(default_factory=dict)


def application_id_of(obj: dict[str, Any]) -> str | None:
    value = (obj.get("metadata", {}).get("labels") or {}).get(labels.APPLICATION_ID)
    return str(value) if value else None


class Converger:
    """Applies desired manifests against the caches; remembers what it wrote where it cannot read."""

    def __init__(self, kube: Kube, cache: ClusterCache, options: spec.RenderOptions) -> None:
        self.kube = kube
        self.cache = cache
        self.options = options
        # Secrets are write-only for procplane (see WATCHED_KINDS): the digest of what was last
        # applied stands in for reading it back.
        self._applied_secrets: dict[tuple[str, str], str] = {}

    def ensure(self, manifest: dict[str, Any], report: PassReport) -> dict[str, Any]:
        kind, namespace, name = object_key(manifest)
        if kind == "Secret":
            digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
            if self._applied_secrets.get((namespace, name)) == digest:
                return manifest
            result = self.kube.apply(manifest)
            self._applied_secrets[(namespace, name)] = digest
            report.applied.append((kind, namespace, name))
            return result
        informer = self.cache[kind]
        live = informer.get(namespace, name)
        if not drift.needs_apply(manifest, live):
            assert live is not None
            return live
        result = self.kube.apply(manifest)
        informer.remember(result)
        report.applied.append((kind, namespace, name))
        return result

    def converge(self, app_id: str, desired: Desired | None) -> PassReport:
        report = PassReport()
        if desired is None:
            self._delete_application(app_id, report)
            return report
        app = desired.app
        app_cr = self.ensure(render.render_application_cr(app), report)
        self.ensure(render.render_namespace(app, app_cr["metadata"]["uid"]), report)
        self.ensure(render.render_config_secret(app), report)
        wanted: set[tuple[str, str, str]] = set()
        for process in desired.processes:
            wanted.add(object_key(render.render_process_cr(app, process)))
            try:
                process_cr = self.ensure(render.render_process_cr(app, process), report)
                for manifest in render.render_process_objects(
                    app, process, self.options, process_cr["metadata"]["uid"]
                ):
                    wanted.add(object_key(manifest))
                    self.ensure(manifest, report)
            except errors.PermanentError as exc:
                report.rejected[process.id] = str(exc)
                # Keep what exists rather than pruning objects we failed to update.
                wanted.update(self._owned_keys(app.id, process.id))
        self._start_runs(desired, report)
        self._prune(app.id, wanted, report)
        return report

    def _owned_keys(self, app_id: str, process_id: str) -> set[tuple[str, str, str]]:
        keys: set[tuple[str, str, str]] = set()
        for kind in PRUNABLE_KINDS:
            for obj in self.cache[kind].select(lambda o: _labelled(o, app_id, process_id)):
                keys.add((kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
        return keys

    def _prune(self, app_id: str, wanted: set[tuple[str, str, str]], report: PassReport) -> None:
        for kind in PRUNABLE_KINDS:
            informer = self.cache[kind]
            for obj in informer.select(lambda o: application_id_of(o) == app_id):
                namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                if (kind, namespace, name) in wanted or obj["metadata"].get("deletionTimestamp"):
                    continue
                self.kube.delete(kind, namespace, name)
                informer.forget(namespace, name)
                report.deleted.append((kind, namespace, name))

    def _delete_application(self, app_id: str, report: PassReport) -> None:
        """The Application CR owns the namespace, which holds everything else: deleting it lets
        garbage collection and the namespace controller remove the rest."""
        informer = self.cache["Application"]
        for obj in informer.select(lambda o: application_id_of(o) == app_id):
            name = obj["metadata"]["name"]
            if not obj["metadata"].get("deletionTimestamp"):
                self.kube.delete("Application", None, name)
                report.deleted.append(("Application", "", name))
            informer.forget("", name)
            # The Application CR is named after its namespace.
            self._applied_secrets = {k: v for k, v in self._applied_secrets.items() if k[0] != name}

    def _start_runs(self, desired: Desired, report: PassReport) -> None:
        processes = {p.id: p for p in desired.processes}
        for run in desired.pending_runs:
            process = processes.get(run.process_id)
            if process is None or process.type != "cron":
                continue
            name = render_jobs.cronjob_name(desired.app, process)
            cronjob = self.cache["CronJob"].get(desired.app.namespace, name)
            if cronjob is None:
                continue  # not applied yet (no image?); the run waits for a later pass
            job = render.render_trigger_job(desired.app, process, cronjob, run.id[:8])
            # A Conflict means an earlier pass created it and died before recording it: same run.
            with contextlib.suppress(errors.Conflict):
                self.kube.create(job)
            report.started_runs[run.id] = job["metadata"]["name"]


def _labelled(obj: dict[str, Any], app_id: str, process_id: str) -> bool:
    found = obj.get("metadata", {}).get("labels") or {}
    return bool(found.get(labels.APPLICATION_ID) == app_id and found.get(labels.PROCESS_ID) == process_id)
