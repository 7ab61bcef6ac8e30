"""Every test here runs against one real local cluster, started once per session."""

from tests.support.localcluster.testing import kube, kube_api, kube_cluster, kube_namespace  # noqa: F401
