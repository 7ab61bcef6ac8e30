"""`procplane` command line: run the API and the reconciler, migrate, manage API keys.

Only the arguments are read here; the commands (`procplane.commands`) and all they import are
loaded once the arguments are known, so `procplane --help` answers at once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from controlplane.domain import states
from controlplane.domain.tenancy import DEFAULT_TEAM
from procplane import logs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="procplane", description="Kubernetes process control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("api", "serve the REST API only"), ("serve", "serve the API and run the reconciler")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
    commands.choices["api"].add_argument(
        "--no-migrate",
        action="store_true",
        help="serve the schema as it is, migrated beforehand (the Helm chart's hook Job does that)",
    )
    reconciler = commands.add_parser("reconciler", help="run the reconciler only")
    for command in (reconciler, commands.choices["serve"]):
        command.add_argument("--workers", type=int, default=4, help="reconcile workers")
        command.add_argument(
            "--health-host", default="127.0.0.1", help="address of the reconciler's /healthz, /readyz and /metrics"
        )
        command.add_argument("--health-port", type=int, default=8081, help="port of the same (0: any free port)")
        command.add_argument(
            "--install-crds", action="store_true", help="apply the CRDs from crds/ first (local clusters)"
        )
    commands.add_parser("migrate", help="bring the database schema up to date")
    render = commands.add_parser("render", help="print an application's manifests as YAML, without a cluster")
    render.add_argument("application", help="application name or id")
    keys = commands.add_parser("api-keys", help="manage API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print its token once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=[role.value for role in states.Role], default=states.Role.ADMIN.value)
    create.add_argument(
        "--team", default=DEFAULT_TEAM, help=f"the key's team, by name (default: {DEFAULT_TEAM}; not for operator keys)"
    )
    keys.add_parser("list", help="list keys (never their tokens)")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The defaults until the settings are read (`commands.run` applies the log format and level of the settings).
    logs.configure()
    from procplane import commands

    return commands.run(args)
