"""A real Kubernetes control plane on loopback, built from the Go module proxy.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as local processes;
KWOK plays the kubelets of a few fake nodes. See `launcher.LocalCluster`.
"""
