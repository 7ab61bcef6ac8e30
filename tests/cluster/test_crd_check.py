"""Start-up against a cluster that does not serve procplane's custom resources: a clear refusal
naming the fix, instead of watches answering 404 forever. The local cluster serves the real CRDs
(other tests install them), so the missing ones are the same definitions moved to a group the
cluster does not know yet; installing them, as the message says, is what makes the check pass."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from procplane import commands
from reconciler.k8s import crds, errors
from reconciler.k8s.client import Kube
from tests.cluster.stack import install_crds
from tests.support.localcluster import launcher
from tests.support.localcluster.testing import Kube as Rest

ABSENT_GROUP = "absent.procplane.test"


def test_the_check_passes_when_the_cluster_serves_the_crds(kube_cluster: launcher.LocalCluster) -> None:
    install_crds(kube_cluster)
    crds.check(Kube(kube_cluster.api_client()))


def _absent_crds(directory: Path) -> list[str]:
    """procplane's CRDs moved to a group the cluster does not serve, written to `directory`."""
    names = []
    for crd in crds.definitions():
        plural = crd["spec"]["names"]["plural"]
        crd["spec"]["group"] = ABSENT_GROUP
        crd["metadata"] = {"name": f"{plural}.{ABSENT_GROUP}"}
        names.append(crd["metadata"]["name"])
        (directory / f"{plural}.yaml").write_text(yaml.safe_dump(crd))
    return names


def test_procplane_reconciler_exits_naming_the_fix(
    kube_cluster: launcher.LocalCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command itself, against the real cluster, expecting the CRDs of the absent group."""
    (tmp_path / "crds").mkdir()
    names = _absent_crds(tmp_path / "crds")
    expected = crds.definitions(tmp_path / "crds")
    monkeypatch.setattr(crds, "definitions", lambda directory=crds.CRD_DIR: expected)
    monkeypatch.setenv("PROCPLANE_KUBECONFIG", str(kube_cluster.kubeconfig_path))
    monkeypatch.setenv("PROCPLANE_DATABASE_URL", f"sqlite:///{tmp_path / 'procplane.db'}")
    args = argparse.Namespace(command="reconciler", workers=1, install_crds=False)
    assert commands.run(args) == 1
    printed = capsys.readouterr().err
    assert printed.startswith("procplane: the cluster does not serve procplane's custom resources")
    assert all(name in printed for name in names)


def test_missing_crds_refuse_start_up_with_the_fix_then_installing_them_passes(
    kube_cluster: launcher.LocalCluster, kube: Rest, tmp_path: Path
) -> None:
    names = _absent_crds(tmp_path)
    client = Kube(kube_cluster.api_client())

    with pytest.raises(errors.MissingCRDs) as refused:
        crds.check(client, tmp_path)
    message = str(refused.value)
    assert all(name in message for name in names)
    assert "crds.enabled=true" in message
    assert "--install-crds" in message

    try:
        crds.install(client, tmp_path)
        crds.check(client, tmp_path)
    finally:
        for name in names:
            kube.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
