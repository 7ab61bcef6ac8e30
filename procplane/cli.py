"""`procplane` command line: run the API and the reconciler, migrate, manage API keys."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
import uvicorn

from controlplane.api.api_keys import service as api_keys
from controlplane.domain import states
from controlplane.domain.errors import DomainError, NotFound
from controlplane.domain.settings import Settings, SettingsError, describe, load_settings, local_kubeconfig
from controlplane.domain.tenancy import DEFAULT_TEAM, TeamScope
from controlplane.store import db, migrate, repository

logger = logging.getLogger("procplane")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="procplane", description="Kubernetes process control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("api", "serve the REST API only"), ("serve", "serve the API and run the reconciler")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
    reconciler = commands.add_parser("reconciler", help="run the reconciler only")
    for command in (reconciler, commands.choices["serve"]):
        command.add_argument("--workers", type=int, default=4, help="reconcile workers")
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


# The operator's own listing is not paged.
ALL_KEYS = 1_000_000


def _print_json(value: object) -> None:
    print(msgspec.json.format(msgspec.json.encode(value)).decode())


async def _api_keys(settings: Settings, args: argparse.Namespace) -> None:
    engine = db.create_engine(settings.database_url, busy_timeout_seconds=settings.database_busy_timeout_seconds)
    try:
        async with db.session_factory(engine)() as session:
            if args.action == "create":
                team_id = None
                if args.role != states.Role.OPERATOR:
                    team = await repository.team_by_name(session, args.team)
                    if team is None:
                        raise NotFound(f"Team {args.team} does not exist")
                    team_id = team.id
                created = await api_keys.create(session, args.name, args.role, team_id)
                print(f"token (shown once): {created.token}")
                shown = msgspec.to_builtins(created)
                del shown["token"]
                _print_json(shown)
            elif args.action == "list":
                _print_json(await api_keys.list_keys(session, TeamScope.every(), 0, ALL_KEYS))
            else:
                _print_json(await api_keys.revoke(session, TeamScope.every(), args.key_id))
    finally:
        await engine.dispose()


def _serve_api(settings: Settings, host: str, port: int) -> None:
    from controlplane.api.app import create_app

    logger.info("procplane API on http://%s:%d (%s)", host, port, describe(settings))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _reconciler(settings: Settings, args: argparse.Namespace) -> Any:
    from reconciler.k8s import client as kube
    from reconciler.k8s import crds
    from reconciler.runner import Reconciler

    kubeconfig = local_kubeconfig(settings)
    api_client = kube.new_api_client(kubeconfig)
    if args.install_crds:
        crds.install(kube.Kube(api_client))
    logger.info("reconciler against %s", kubeconfig or "the in-cluster service account")
    engine = db.create_engine(settings.database_url, busy_timeout_seconds=settings.database_busy_timeout_seconds)
    factory = db.session_factory(engine)
    return Reconciler(settings, api_client, factory, workers=args.workers, lease_namespace=settings.lease_namespace)


async def _render(settings: Settings, name_or_id: str) -> str:
    from controlplane.store import repository
    from reconciler.converge.source import Source
    from reconciler.render import manifests as render
    from reconciler.runner import render_options

    engine = db.create_engine(settings.database_url, busy_timeout_seconds=settings.database_busy_timeout_seconds)
    try:
        factory = db.session_factory(engine)
        async with factory() as session:
            app = await repository.get_application(session, name_or_id) or await repository.application_by_name(
                session, name_or_id
            )
        if app is None:
            raise NotFound(f"no application named or with id {name_or_id!r}")
        desired = await Source(factory).load(app.id)
        assert desired is not None
        return render.to_yaml(render.render_application(desired.app, desired.processes, render_options(settings)))
    finally:
        await engine.dispose()


async def _run_reconciler(settings: Settings, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await _reconciler(settings, args).run(stop)


async def _serve_both(settings: Settings, args: argparse.Namespace) -> None:
    """API and reconciler in one process: the API's in-process change bus wakes the reconciler."""
    from controlplane.api.app import create_app

    await migrate.upgrade_async(settings.database_url)
    reconciler = _reconciler(settings, args)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, run_migrations=False), host=args.host, port=args.port, log_level="info")
    )
    stop = asyncio.Event()
    running = asyncio.create_task(reconciler.run(stop))
    logger.info("procplane on http://%s:%d (%s)", args.host, args.port, describe(settings))
    try:
        await server.serve()
    finally:
        stop.set()
        await running


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"procplane: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            migrate.upgrade(settings.database_url)
            print("database schema is up to date")
        elif args.command == "api-keys":
            migrate.upgrade(settings.database_url)
            asyncio.run(_api_keys(settings, args))
        elif args.command == "render":
            migrate.upgrade(settings.database_url)
            print(asyncio.run(_render(settings, args.application)), end="")
        elif args.command == "api":
            _serve_api(settings, args.host, args.port)
        elif args.command == "serve":
            asyncio.run(_serve_both(settings, args))
        else:
            asyncio.run(_run_reconciler(settings, args))
    except DomainError as exc:
        print(f"procplane: {exc.detail}", file=sys.stderr)
        return 1
    return 0
