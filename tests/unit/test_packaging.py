"""The wheel holds the product and its CRDs, and none of the development tools or tests."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_crds_and_no_dev_tools(tmp_path: Path) -> None:
    subprocess.run(
        # `uv run` names itself in UV; the tests always run under it (README, `make test`).
        [os.environ["UV"], "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("procplane-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packaged = sorted(Path(n).name for n in names if n.startswith("reconciler/k8s/crds/"))
    assert packaged == sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    assert {n.split("/")[0] for n in names if not n.startswith("procplane-")} == {
        "procplane",
        "controlplane",
        "reconciler",
    }
