"""Spec -> Kubernetes manifests. Pure: no client calls, no clock, no randomness.

The reconciler server-side applies what these functions return; ``procplane render`` prints it.
Workloads of an application without an image are not rendered at all (see
``workloads_blocked_reason``): a Deployment of nothing cannot run, and leaving the workloads out
keeps the namespace, config Secret and custom resources converging while the user pushes a first
image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from controlplane.domain import spec
from reconciler.render import application as render_app
from reconciler.render import jobs as render_jobs
from reconciler.render import labels
from reconciler.render import workloads as render_workloads

__all__ = [
    "PLACEHOLDER_UID",
    "render_application",
    "render_application_cr",
    "render_config_secret",
    "render_namespace",
    "render_process_cr",
    "render_process_objects",
    "render_release_job",
    "render_trigger_job",
    "to_yaml",
    "workloads_blocked_reason",
]

# Owner uids exist only once the owners are applied; offline output uses this stand-in.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"

render_namespace = render_app.render_namespace
render_config_secret = render_app.render_config_secret
render_application_cr = render_app.render_application_cr
render_process_cr = render_app.render_process_cr
render_trigger_job = render_jobs.render_trigger_job


def workloads_blocked_reason(app: spec.ApplicationSpec) -> str | None:
    """Why no workload of ``app`` can be rendered yet, or None when they can."""
    if app.image is None:
        return "the application has no image yet: set one or create a deployment"
    return None


def render_process_objects(
    app: spec.ApplicationSpec,
    process: spec.ProcessSpec,
    options: spec.RenderOptions,
    process_cr_uid: str,
) -> list[dict[str, Any]]:
    """The standing workloads of one process, each owned by its Process CR.

    Job processes have none: their Jobs exist per release (``render_release_job``).
    """
    image = app.image
    if image is None:
        return []
    uid = process_cr_uid
    objects: list[dict[str, Any]] = []
    if process.type in ("web", "worker"):
        objects.append(render_workloads.render_deployment(app, process, image, options, uid))
    if process.type == "web":
        objects.append(render_workloads.render_service(app, process, uid))
    if process.type in ("web", "worker") and render_workloads.autoscaled(process):
        objects.append(render_workloads.render_hpa(app, process, options, uid))
    if process.type == "web" and render_workloads.minimum_instances(process) > 1:
        objects.append(render_workloads.render_pdb(app, process, uid))
    if process.type == "web" and process.is_ingress_enabled and options.ingress_class is not None:
        objects.append(render_workloads.render_ingress(app, process, options, uid))
    if process.type == "cron":
        objects.append(render_jobs.render_cronjob(app, process, image, options, uid))
    return objects


# Release jobs are rendered on their own, per deployment, not with the standing objects.
render_release_job = render_jobs.render_release_job


def render_application(
    app: spec.ApplicationSpec,
    processes: Iterable[spec.ProcessSpec],
    options: spec.RenderOptions | None = None,
    *,
    application_cr_uid: str = PLACEHOLDER_UID,
    process_cr_uids: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every standing manifest of an application, owners before the objects they own.

    ``process_cr_uids`` maps process id to the uid of its applied Process CR; missing entries
    (and the default, for offline rendering) use ``PLACEHOLDER_UID``.
    """
    opts = options or spec.RenderOptions()
    uids = process_cr_uids or {}
    manifests = [
        render_app.render_application_cr(app),
        render_app.render_namespace(app, application_cr_uid),
        render_app.render_config_secret(app),
    ]
    for process in sorted(processes, key=lambda p: p.key):
        manifests.append(render_app.render_process_cr(app, process))
        manifests.extend(render_process_objects(app, process, opts, uids.get(process.id, PLACEHOLDER_UID)))
    return [labels.owned_by_install(manifest, opts.install_id) for manifest in manifests]


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """A multi-document YAML stream, keys in rendering order, as ``helm template`` prints."""
    return yaml.safe_dump_all(
        [dict(manifest) for manifest in manifests],
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
    )
