"""Run-to-completion workloads: the CronJob of a cron process and the Jobs of cron and job processes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from controlplane.domain import spec
from reconciler.render import fields, labels
from reconciler.render import pod as render_pod


def cronjob_name(app: spec.ApplicationSpec, process: spec.ProcessSpec) -> str:
    return labels.fit_name(labels.process_name(app, process), limit=labels.MAX_CRONJOB_NAME)


def _job_spec(process: spec.ProcessSpec, template: dict[str, Any], ttl: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"backoffLimit": process.job_backoff_limit}
    if process.job_timeout_seconds is not None:
        body["activeDeadlineSeconds"] = process.job_timeout_seconds
    if ttl is not None:
        body["ttlSecondsAfterFinished"] = ttl
    body["template"] = template
    return body


def render_cronjob(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    image: str,
    options: spec.RenderOptions,
    process_cr_uid: str,
) -> dict[str, Any]:
    if process.schedule is None:
        raise ValueError(f"cron process {process.key!r} has no schedule")
    # Never: every retry is a fresh pod the user can see, and backoffLimit counts them plainly.
    template = render_pod.pod_template(app, process, image, options, restart_policy="Never")
    body = fields.present(
        schedule=process.schedule,
        timeZone=process.time_zone,
        concurrencyPolicy=options.cron_concurrency_policy,
        startingDeadlineSeconds=options.cron_starting_deadline_seconds,
        successfulJobsHistoryLimit=options.successful_jobs_history_limit,
        failedJobsHistoryLimit=options.failed_jobs_history_limit,
        suspend=process.suspended,
        jobTemplate={
            "metadata": {"labels": labels.process_labels(app, process)},
            "spec": _job_spec(process, template, options.cron_job_ttl_seconds),
        },
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": labels.object_metadata(app, process, process_cr_uid, cronjob_name(app, process)),
        "spec": body,
    }


def render_trigger_job(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    cronjob: Mapping[str, Any],
    suffix: str,
    *,
    cronjob_uid: str | None = None,
) -> dict[str, Any]:
    """A one-off Job from a CronJob's template ("run now"), like ``kubectl create job --from``.

    The Job is controlled by the CronJob, so it counts against the CronJob's concurrency policy
    and history limits and is collected with it. The uid comes from ``cronjob_uid`` or from the
    live object's ``metadata.uid``.
    """
    if process.type != "cron":
        raise ValueError(f"process {process.key!r} is a {process.type}, not a cron process")
    metadata = cronjob["metadata"]
    uid = cronjob_uid or metadata.get("uid")
    if not uid:
        raise ValueError("the CronJob uid is needed to own the triggered Job")
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    job_labels = dict(template.get("metadata", {}).get("labels", {}))
    job_labels.update(labels.process_labels(app, process))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": labels.fit_name(metadata["name"], suffix),
            "namespace": app.namespace,
            "labels": job_labels,
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [labels.owner_reference("CronJob", metadata["name"], uid, api_version="batch/v1")],
        },
        "spec": template["spec"],
    }


def release_job_name(app: spec.ApplicationSpec, process: spec.ProcessSpec, release_number: int) -> str:
    return labels.fit_name(labels.process_name(app, process), f"r{release_number}")


def render_release_job(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    release_number: int,
    image: str,
    process_cr_uid: str,
    options: spec.RenderOptions | None = None,
) -> dict[str, Any]:
    """The Job that runs job process ``process`` for release ``release_number``.

    Named ``{app}-{key}-r{N}`` (shortened with a hash when needed), so creating it twice for the
    same release is a conflict rather than a second run. ``image`` is the release's image, which
    is not yet the application's current one while ``beforeDeployment`` jobs run.
    """
    if process.type != "job":
        raise ValueError(f"process {process.key!r} is a {process.type}, not a job process")
    release = {labels.RELEASE: str(release_number)}
    options = options or spec.RenderOptions()
    template = render_pod.pod_template(app, process, image, options, restart_policy="Never", extra_labels=release)
    metadata = labels.object_metadata(app, process, process_cr_uid, release_job_name(app, process, release_number))
    metadata["labels"].update(release)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": _job_spec(process, template, process.job_ttl_seconds),
    }
