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
from datetime import datetime
from typing import Any

import msgspec

from controlplane.domain import clock, spec, states
from controlplane.domain.desired import Desired
from controlplane.domain.observed import ObservedStatus
from controlplane.domain.release import ReleaseRecord, Step
from reconciler.converge import drift, releases, status
from reconciler.k8s import errors
from reconciler.k8s.cache import ClusterCache
from reconciler.k8s.client import Kube, object_key
from reconciler.render import jobs as render_jobs
from reconciler.render import labels
from reconciler.render import manifests as render

logger = logging.getLogger("procplane.reconciler")

MANAGED = f"app.kubernetes.io/managed-by={labels.MANAGED_BY}"
# What the informers watch. Secrets are deliberately absent: procplane writes each application's
# config Secret but never reads Secrets, so it needs no permission to list them cluster-wide.
_WATCHED = {
    "Application": MANAGED,
    "Namespace": MANAGED,
    "Process": MANAGED,
    "Deployment": MANAGED,
    "Service": MANAGED,
    "HorizontalPodAutoscaler": MANAGED,
    "PodDisruptionBudget": MANAGED,
    "Ingress": MANAGED,
    "CronJob": MANAGED,
    "Job": MANAGED,
    "Pod": labels.PROCESS_ID,
}


def watched_kinds(install_id: str) -> dict[str, str | None]:
    """Kind -> label selector of the informers: only the objects of this install, so another
    install's applications never enter the caches, and so are never pruned as orphans."""
    return {kind: labels.install_selector(install_id, selector) for kind, selector in _WATCHED.items()}


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
    # run id -> name of the Job triggered for it
    started_runs: dict[str, str] = field(default_factory=dict)
    # process id -> its status in the API's terms, for the database
    statuses: dict[str, ObservedStatus] = field(default_factory=dict)
    # the active release and the step this pass took, when it took one
    release_step: tuple[ReleaseRecord, Step] | None = None
    # process key -> name of the release Job started for it
    started_jobs: dict[str, str] = field(default_factory=dict)
    cancelled_jobs: tuple[str, ...] = ()


def application_id_of(obj: dict[str, Any]) -> str | None:
    value = (obj.get("metadata", {}).get("labels") or {}).get(labels.APPLICATION_ID)
    return str(value) if value else None


class Converger:
    """Applies desired manifests against the caches; remembers what it wrote where it cannot read."""

    def __init__(self, kube: Kube, cache: ClusterCache, options: spec.RenderOptions) -> None:
        self.kube = kube
        self.cache = cache
        self.options = options
        # Secrets are write-only for procplane (see _WATCHED): the digest of what was last
        # applied stands in for reading it back.
        self._applied_secrets: dict[tuple[str, str], str] = {}
        # What the apiserver refused, by object: the same manifest is not sent again (no hot
        # loop) until the spec behind it changes.
        self._refused: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def _apply(self, manifest: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        key = (*object_key(manifest), subresource)
        digest = _digest(manifest)
        refused = self._refused.get(key)
        if refused is not None and refused[0] == digest:
            raise errors.PermanentError(refused[1], 422)
        try:
            result = self.kube.apply(manifest, subresource=subresource or None)
        except errors.PermanentError as exc:
            self._refused[key] = (digest, str(exc))
            raise
        self._refused.pop(key, None)
        return result

    def _owned(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return labels.owned_by_install(manifest, self.options.install_id)

    def ensure(self, manifest: dict[str, Any], report: PassReport) -> dict[str, Any]:
        manifest = self._owned(manifest)
        kind, namespace, name = object_key(manifest)
        if kind == "Secret":
            digest = _digest(manifest)
            if self._applied_secrets.get((namespace, name)) == digest:
                return manifest
            result = self._apply(manifest)
            self._applied_secrets[(namespace, name)] = digest
            report.applied.append((kind, namespace, name))
            return result
        informer = self.cache[kind]
        live = informer.get(namespace, name)
        if not drift.needs_apply(manifest, live):
            assert live is not None
            return live
        result = self._apply(manifest)
        informer.remember(result)
        report.applied.append((kind, namespace, name))
        return result

    def converge(self, app_id: str, desired: Desired | None) -> PassReport:
        report = PassReport()
        if desired is None:
            self._delete_application(app_id, report)
            return report
        app = desired.app
        release = desired.release
        if release is not None and release.status == states.ReleaseStatus.ROLLING_OUT:
            # Only a rollout in progress deploys the release's image; until it succeeds the
            # application's current image stays what every other pass renders.
            token = release.id if release.is_restart else app.restart_token
            app = msgspec.structs.replace(app, image=release.image, restart_token=token)
        app_cr = self.ensure(render.render_application_cr(app), report)
        self.ensure(render.render_namespace(app, app_cr["metadata"]["uid"]), report)
        self.ensure(render.render_config_secret(app), report)
        wanted: set[tuple[str, str, str]] = set()
        for process in desired.processes:
            process_manifest = render.render_process_cr(app, process)
            wanted.add(object_key(process_manifest))
            try:
                process_cr = self.ensure(process_manifest, report)
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
        for name in desired.cancelled_jobs:
            self.kube.delete("Job", app.namespace, name)
        report.cancelled_jobs = desired.cancelled_jobs
        if release is not None:
            self._advance_release(desired, release, report)
        self._publish_statuses(desired, report, clock.utcnow())
        return report

    def _publish_statuses(self, desired: Desired, report: PassReport, now: datetime) -> None:
        """Compute each process's status from the caches; write it to its Process CR when it
        changed, and hand it to the caller for the database."""
        app = desired.app
        for process in desired.processes:
            name = labels.process_name(app, process)
            process_cr = self.cache["Process"].get(app.namespace, name)
            cr_status = (process_cr or {}).get("status")
            computed = status.compute_status(
                process,
                (process_cr or {}).get("metadata", {}).get("generation"),
                now=now,
                deployment=self.cache["Deployment"].get(app.namespace, name),
                cronjob=self.cache["CronJob"].get(app.namespace, render_jobs.cronjob_name(app, process)),
                hpa=self.cache["HorizontalPodAutoscaler"].get(app.namespace, name),
                pods=self._pods(app.id, process.id),
                apply_error=report.rejected.get(process.id),
                previous=status.conditions_from_cr(cr_status),
            )
            hostname = labels.internal_hostname(app, process, self.options) if process.type == "web" else None
            wanted = status.to_cr_status(computed, internal_hostname=hostname)
            if process_cr is not None and not drift.contains(cr_status, wanted):
                manifest = {
                    "apiVersion": process_cr["apiVersion"],
                    "kind": "Process",
                    "metadata": {"name": name, "namespace": app.namespace},
                    "status": wanted,
                }
                try:
                    self.cache["Process"].remember(self._apply(manifest, subresource="status"))
                    report.applied.append(("Process/status", app.namespace, name))
                except errors.PermanentError as exc:
                    # Only a spec that was itself refused can yield a refused status; the
                    # database still gets the status, with the refusal in Degraded.
                    logger.warning("status of %s/%s refused: %s", app.namespace, name, exc)
            # The API's generation, not the CR's: which spec of the user's the cluster now runs;
            # unknown (the stored one stays) when the apiserver refused that spec.
            generation = None if process.id in report.rejected else process.generation
            report.statuses[process.id] = msgspec.structs.replace(computed, observed_generation=generation)

    def _advance_release(self, desired: Desired, release: ReleaseRecord, report: PassReport) -> None:
        app = desired.app
        observed = {
            job.job_name: releases.job_outcome(
                self.cache["Job"].get(app.namespace, job.job_name),
                self._job_pods(job.job_name),
            )
            for job in release.jobs
        }
        rollout: tuple[bool, str | None] = (False, None)
        if release.status == states.ReleaseStatus.ROLLING_OUT:
            live = self.cache["Deployment"]
            deployments = {p.id: live.get(app.namespace, labels.process_name(app, p)) for p in desired.processes}
            rollout = releases.rollout_state(release.image, desired.processes, deployments)
        decided = releases.step(release, desired.processes, observed, rollout)
        for process, _policy in decided.start_jobs:
            process_cr = self.cache["Process"].get(app.namespace, labels.process_name(app, process))
            if process_cr is None:
                raise errors.TemporaryError(f"Process CR of {process.key} not applied yet")
            job = render.render_release_job(
                app, process, release.number, release.image, process_cr["metadata"]["uid"], self.options
            )
            # A Conflict is the Job an earlier, interrupted pass started: it is not run twice.
            with contextlib.suppress(errors.Conflict):
                self.kube.create(self._owned(job))
            report.started_jobs[process.key] = job["metadata"]["name"]
        if decided.changed(release):
            report.release_step = (release, decided)

    def _job_pods(self, job_name: str) -> list[dict[str, Any]]:
        return self.cache["Pod"].select(lambda o: _job_name_of(o) == job_name)

    def _pods(self, app_id: str, process_id: str) -> list[dict[str, Any]]:
        return self.cache["Pod"].select(lambda o: _labelled(o, app_id, process_id))

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
                self.kube.create(self._owned(job))
            report.started_runs[run.id] = job["metadata"]["name"]


def _job_name_of(pod: dict[str, Any]) -> str | None:
    found = pod.get("metadata", {}).get("labels") or {}
    return found.get("batch.kubernetes.io/job-name") or found.get("job-name")


def _digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _labelled(obj: dict[str, Any], app_id: str, process_id: str) -> bool:
    found = obj.get("metadata", {}).get("labels") or {}
    return bool(found.get(labels.APPLICATION_ID) == app_id and found.get(labels.PROCESS_ID) == process_id)
