"""The chart tests that install into a cluster share the session's local cluster."""

from tests.support.localcluster.testing import kube, kube_api, kube_cluster, kube_namespace  # noqa: F401
