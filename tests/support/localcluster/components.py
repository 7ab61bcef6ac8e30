"""Command lines of the cluster's components (pure: paths and ports in, argv out)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.support.localcluster import build, certs
from tests.support.localcluster.ports import LOOPBACK

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
SERVICE_ACCOUNT_ISSUER = f"https://kubernetes.default.svc.{CLUSTER_DOMAIN}"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"
STAGES_DIR = Path(__file__).resolve().parent / "kwok_stages"


@dataclasses.dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    # KWOK's kubelet-like server (node metrics) and metrics-server; 0 in state files from before.
    kwok_server: int = 0
    metrics_server: int = 0


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where one cluster keeps its files."""

    root: Path

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_dir(self) -> Path:
        return self.root / "etcd"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def component_kubeconfig(self, name: str) -> Path:
        return self.root / "kubeconfigs" / f"{name}.kubeconfig"

    @property
    def kwok_home(self) -> Path:
        # KWOK reads ~/.kwok/kwok.yaml when present; a private HOME keeps a developer's
        # own KWOK settings out of this cluster.
        return self.root / "kwok-home"

    def log(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"


def etcd(layout: Layout, ports: Ports) -> list[str]:
    client = f"http://{LOOPBACK}:{ports.etcd_client}"
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(build.binary_path("etcd")),
        "--name=procplane",
        f"--data-dir={layout.etcd_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=procplane={peer}",
        "--initial-cluster-state=new",
        # A throwaway cluster: durability costs fsync latency on every write for nothing.
        "--unsafe-no-fsync",
        # Fewer raft entries kept in memory between snapshots keeps etcd's RSS small.
        "--snapshot-count=5000",
        "--log-level=warn",
    ]


def apiserver(layout: Layout, ports: Ports, pki: certs.Pki) -> list[str]:
    return [
        str(build.binary_path("kube-apiserver")),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        *_serving_pair(pki),
        f"--client-ca-file={pki.ca.cert}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        # As on kubeadm clusters: privileged pods are decided by Pod Security, not refused
        # outright, so namespaces without an enforce label behave as they do in production.
        "--allow-privileged=true",
        # Request-header auth for aggregated APIs; without it every component logs errors
        # about the missing requestheader CA in kube-system/extension-apiserver-authentication.
        f"--requestheader-client-ca-file={pki.ca.cert}",
        f"--requestheader-allowed-names={certs.FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy.cert}",
        f"--proxy-client-key-file={pki.front_proxy.key}",
        # PodSecurity is on by default; naming it keeps it on should defaults ever change.
        "--enable-admission-plugins=NodeRestriction,PodSecurity",
        # Endpoints may not hold loopback addresses, and nothing in-cluster can reach
        # this apiserver anyway, so the `kubernetes` Service is left without endpoints.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--event-ttl=1h",
    ]


# The client rate limits of the controller-manager and the scheduler (20 and 50 QPS by default):
# high enough that creating pods for thousands of processes waits on procplane, not on them.
CLIENT_QPS, CLIENT_BURST = 1000, 2000


def _component(layout: Layout, pki: certs.Pki, binary: str, name: str, port: int) -> list[str]:
    """A control-plane component's binary, the kubeconfig it reaches the apiserver with (and
    checks its callers with), and its serving flags."""
    kubeconfig = layout.component_kubeconfig(name)
    return [
        str(build.binary_path(binary)),
        *(f"--{use}kubeconfig={kubeconfig}" for use in ("", "authentication-", "authorization-")),
        *_serving_flags(pki, port),
    ]


def _client_rate_flags() -> list[str]:
    return [f"--kube-api-qps={CLIENT_QPS}", f"--kube-api-burst={CLIENT_BURST}"]


def _serving_pair(pki: certs.Pki) -> list[str]:
    return [f"--tls-cert-file={pki.apiserver.cert}", f"--tls-private-key-file={pki.apiserver.key}"]


def _serving_flags(pki: certs.Pki, port: int) -> list[str]:
    # The apiserver's cert names 127.0.0.1, so the same pair serves the other components'
    # health endpoints and the launcher can verify them against the cluster CA.
    return [
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        *_serving_pair(pki),
        f"--client-ca-file={pki.ca.cert}",
    ]


def controller_manager(layout: Layout, ports: Ports, pki: certs.Pki) -> list[str]:
    return [
        *_component(layout, pki, "kube-controller-manager", "controller-manager", ports.controller_manager),
        *_client_rate_flags(),
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca.cert}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        "--use-service-account-credentials=true",
        "--controllers=*",
        "--leader-elect=false",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--cluster-name=procplane-local",
        "--profiling=false",
    ]


def scheduler(layout: Layout, ports: Ports, pki: certs.Pki) -> list[str]:
    return [
        *_component(layout, pki, "kube-scheduler", "scheduler", ports.scheduler),
        *_client_rate_flags(),
        "--leader-elect=false",
        "--profiling=false",
    ]


def kwok(layout: Layout, ports: Ports, pki: certs.Pki) -> list[str]:
    stages = sorted(STAGES_DIR.glob("*.yaml"))
    return [
        str(build.binary_path("kwok")),
        f"--kubeconfig={layout.component_kubeconfig('kwok')}",
        *(f"--config={stage}" for stage in stages),
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_ANNOTATION_VALUE}",
        f"--cidr={POD_CIDR}",
        "--node-lease-duration-seconds=40",
        # Every node's kubelet endpoint is KWOK's own server on loopback, as with kwokctl's
        # binary runtime: metrics-server scrapes simulated usage there.
        f"--node-ip={LOOPBACK}",
        f"--node-port={ports.kwok_server}",
        f"--server-address={LOOPBACK}:{ports.kwok_server}",
        *_serving_pair(pki),
    ]


def metrics_server(layout: Layout, ports: Ports, pki: certs.Pki) -> list[str]:
    """metrics-server, serving metrics.k8s.io through the apiserver's aggregation layer."""
    return [
        *_component(layout, pki, "metrics-server", "metrics-server", ports.metrics_server),
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        # KWOK's server presents the apiserver's certificate, which does not name the node.
        "--kubelet-insecure-tls",
        "--metric-resolution=10s",
        "--kubelet-request-timeout=5s",
    ]


METRICS_API_SERVICE = "v1beta1.metrics.k8s.io"


def metrics_api_objects(ports: Ports) -> list[tuple[str, dict[str, object]]]:
    """(collection path, manifest) that route metrics.k8s.io to metrics-server on loopback: an
    ExternalName Service (the aggregator dials its name; Endpoints may not hold loopback) and
    the APIService."""
    service: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {
            "type": "ExternalName",
            "externalName": LOOPBACK,
            "ports": [{"name": "https", "port": ports.metrics_server, "protocol": "TCP"}],
        },
    }
    api_service: dict[str, object] = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": METRICS_API_SERVICE},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "service": {"name": "metrics-server", "namespace": "kube-system", "port": ports.metrics_server},
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    return [
        ("/api/v1/namespaces/kube-system/services", service),
        ("/apis/apiregistration.k8s.io/v1/apiservices", api_service),
    ]


def node_manifest(name: str, zone: str) -> dict[str, object]:
    """A fake Node for KWOK to manage, labelled as a kubelet would label it."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE,
                "node.alpha.kubernetes.io/ttl": "0",
                # Where metrics-server reads this node's usage on KWOK's server.
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "spec": {},
    }
