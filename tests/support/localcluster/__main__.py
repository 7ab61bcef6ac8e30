"""`python -m tests.support.localcluster build|up|down|status|kubeconfig`: the local cluster for developers.

`up` starts a detached cluster (it outlives the command) and is idempotent: with one
already running it just reports it. `down` stops whatever `up` started.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.support.localcluster import build, embedded, launcher, versions


def _state_dir(arg: str | None) -> Path:
    return embedded.state_dir(arg)


def _print_cluster(cluster: launcher.LocalCluster) -> None:
    print(f"server:     {cluster.server_url}")
    print(f"kubeconfig: {cluster.kubeconfig_path}")
    print(f"use it:     export KUBECONFIG={cluster.kubeconfig_path}")


def cmd_build(args: argparse.Namespace) -> int:
    tools = [versions.by_name(n) for n in args.tools] if args.tools else list(versions.ALL)
    timings: list[tuple[str, float, bool]] = []
    for tool in tools:
        cached = not args.force and build.is_built(tool)
        began = time.monotonic()
        build.build(tool, force=args.force)
        timings.append((tool.key, time.monotonic() - began, cached))
    for key, seconds, cached in timings:
        print(f"{key:24} {'cached' if cached else f'{seconds:6.0f}s'}", file=sys.stderr)
    print(f"tools in {build.tools_dir()}", file=sys.stderr)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args.state_dir)
    running = launcher.LocalCluster.attach(state_dir)
    if running is not None and all(running.running().values()):
        print("cluster already running")
        _print_cluster(running)
        return 0
    if running is not None:
        # Some components died (or the machine rebooted): clear the remains and start afresh.
        running.stop()
    cluster = launcher.LocalCluster(state_dir, nodes=args.nodes, tie_to_parent=False)
    cluster.start()
    _print_cluster(cluster)
    print(f"logs:       {cluster.layout.logs_dir}")
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    if args.start:
        print(embedded.kubeconfig(directory=args.state_dir))
        return 0
    cluster = launcher.LocalCluster.attach(_state_dir(args.state_dir))
    if cluster is None or not all(cluster.running().values()):
        print("no cluster running (start one with `make cluster`)", file=sys.stderr)
        return 1
    print(cluster.kubeconfig_path)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args.state_dir)
    cluster = launcher.LocalCluster.attach(state_dir)
    if cluster is None:
        print(f"no cluster recorded in {state_dir}")
        return 0
    cluster.stop()
    print("cluster stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cluster = launcher.LocalCluster.attach(_state_dir(args.state_dir))
    if cluster is None:
        print("no cluster running")
        return 1
    _print_cluster(cluster)
    memory = cluster.memory()
    alive = cluster.running()
    for name, up in alive.items():
        print(f"  {name:24} {'running' if up else 'STOPPED':8} {memory[name] / 2**20:7.0f} MiB")
    print(f"  {'total':24} {'':8} {sum(memory.values()) / 2**20:7.0f} MiB")
    print(f"up for {time.time() - cluster.started_at:.0f}s")
    return 0 if all(alive.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.localcluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="build the pinned tools (cached per version)")
    p.add_argument("tools", nargs="*", help=f"subset of: {', '.join(t.name for t in versions.ALL)}")
    p.add_argument("--force", action="store_true", help="rebuild even when cached")
    p.set_defaults(func=cmd_build)

    for name, func, text in (
        ("up", cmd_up, "start a detached cluster (no-op if one runs)"),
        ("down", cmd_down, "stop the cluster"),
        ("status", cmd_status, "show components and memory; exit 1 unless all run"),
        ("kubeconfig", cmd_kubeconfig, "print the kubeconfig path of the running cluster"),
    ):
        p = commands.add_parser(name, help=text)
        p.add_argument("--state-dir", help=f"default: ${embedded.STATE_DIR_ENV} or {embedded.DEFAULT_STATE_DIR}")
        if name == "kubeconfig":
            p.add_argument(
                "--start",
                action="store_true",
                help="print the configured kubeconfig ($KUBECONFIG, ~/.kube/config), "
                "else the local cluster's, starting it if needed",
            )
        if name == "up":
            p.add_argument("--nodes", type=int, default=launcher.DEFAULT_NODES, help="fake nodes")
        p.set_defaults(func=func)

    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (build.BuildError, launcher.ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
