# The local Kubernetes: pinned tools built from the Go module proxy, and a detached
# cluster for development. Included by the top-level Makefile, which defines PY.
#
#   make tools         build kube-apiserver, controller-manager, scheduler, etcd, kwok, helm
#                      (cached per version; only the first run compiles)
#   make cluster       start the local cluster in the background; prints its kubeconfig
#   make cluster-down  stop it, leaving no process or port behind
#   make cluster-status
#
# $(CLUSTER_KUBECONFIG) is where the running local cluster's kubeconfig is written.

PY ?= uv run python
CLUSTER_DIR ?= .procplane/cluster

CLUSTER_KUBECONFIG := $(CLUSTER_DIR)/kubeconfig

.PHONY: tools cluster cluster-down cluster-status

tools:
	$(PY) -m tests.support.localcluster build

cluster: tools
	$(PY) -m tests.support.localcluster up --state-dir $(CLUSTER_DIR)

cluster-down:
	$(PY) -m tests.support.localcluster down --state-dir $(CLUSTER_DIR)

cluster-status:
	$(PY) -m tests.support.localcluster status --state-dir $(CLUSTER_DIR)
