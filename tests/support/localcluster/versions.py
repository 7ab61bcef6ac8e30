"""The pinned tools of the local cluster: which Go module builds which binaries.

Every version here must match the `require` line of the Go module in `gomod/<name>/`;
the build refuses a tool whose go.mod disagrees, so the two cannot drift apart silently.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

GOMOD_ROOT = Path(__file__).resolve().parent / "gomod"

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v4.3.1"
METRICS_SERVER_VERSION = "v0.8.0"


@dataclasses.dataclass(frozen=True)
class Binary:
    """One executable produced by a tool build."""

    name: str
    package: str


@dataclasses.dataclass(frozen=True)
class Tool:
    """A Go module under `gomod/` pinned to one upstream version."""

    name: str
    module: str
    version: str
    binaries: tuple[Binary, ...]
    # Linker -X flags: without them Kubernetes reports v0.0.0-master, which clients
    # (helm's kubeVersion checks, for one) treat as an unknown, pre-release server.
    ldflags_x: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def gomod_dir(self) -> Path:
        return GOMOD_ROOT / self.name


def _kube_version_flags(version: str) -> tuple[tuple[str, str], ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    flags: list[tuple[str, str]] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            (f"{pkg}.gitVersion", version),
            (f"{pkg}.gitMajor", major),
            (f"{pkg}.gitMinor", minor),
            (f"{pkg}.gitTreeState", "clean"),
        ]
    return tuple(flags)


KUBERNETES = Tool(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=KUBERNETES_VERSION,
    binaries=(
        Binary("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
        Binary("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"),
        Binary("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"),
        # The client the benchmarks compare procplane with, from the same pinned module.
        Binary("kubectl", "k8s.io/kubernetes/cmd/kubectl"),
    ),
    ldflags_x=_kube_version_flags(KUBERNETES_VERSION),
)

ETCD = Tool(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=ETCD_VERSION,
    binaries=(Binary("etcd", "go.etcd.io/etcd/server/v3"),),
)

KWOK = Tool(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=KWOK_VERSION,
    binaries=(Binary("kwok", "sigs.k8s.io/kwok/cmd/kwok"),),
)

HELM = Tool(
    name="helm",
    module="helm.sh/helm/v4",
    version=HELM_VERSION,
    binaries=(Binary("helm", "helm.sh/helm/v4/cmd/helm"),),
    ldflags_x=(("helm.sh/helm/v4/internal/version.version", HELM_VERSION),),
)

METRICS_SERVER = Tool(
    name="metrics-server",
    module="sigs.k8s.io/metrics-server",
    version=METRICS_SERVER_VERSION,
    binaries=(Binary("metrics-server", "sigs.k8s.io/metrics-server/cmd/metrics-server"),),
)

# Build order: the slowest first, so a cold `make tools` reports the long pole early.
ALL: tuple[Tool, ...] = (KUBERNETES, ETCD, KWOK, METRICS_SERVER, HELM)
# What a running cluster needs; helm is only for chart tests and installs.
CLUSTER: tuple[Tool, ...] = (KUBERNETES, ETCD, KWOK, METRICS_SERVER)


def by_name(name: str) -> Tool:
    for tool in ALL:
        if tool.name == name:
            return tool
    known = ", ".join(t.name for t in ALL)
    raise KeyError(f"unknown tool {name!r} (known: {known})")
