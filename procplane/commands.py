"""What each `procplane` command does (the arguments are read in `procplane.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane.api.api_keys import service as api_keys
from controlplane.domain import states
from controlplane.domain.errors import DomainError, NotFound
from controlplane.domain.settings import Settings, SettingsError, describe, load_settings, local_kubeconfig
from controlplane.domain.tenancy import TeamScope
from controlplane.store import db, migrate, repository
from procplane import logs
from reconciler.k8s.errors import MissingCRDs

logger = logging.getLogger("procplane")


# The operator's own listing is not paged.
ALL_KEYS = 1_000_000


def _engine(settings: Settings) -> AsyncEngine:
    return db.create_engine(settings.database_url, busy_timeout_seconds=settings.database_busy_timeout_seconds)


def _print_json(value: object) -> None:
    print(msgspec.json.format(msgspec.json.encode(value)).decode())


async def _api_keys(settings: Settings, args: argparse.Namespace) -> None:
    engine = _engine(settings)
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


def _serve_api(settings: Settings, host: str, port: int, *, migrate_first: bool) -> None:
    from controlplane.api.app import create_app

    logger.info("procplane API on http://%s:%d (%s)", host, port, describe(settings))
    uvicorn.run(
        create_app(settings, run_migrations=migrate_first),
        host=host,
        port=port,
        **logs.uvicorn_options(settings.log_level),
    )


def _reconciler(settings: Settings, args: argparse.Namespace) -> Any:
    from reconciler.k8s import client as kube
    from reconciler.k8s import crds
    from reconciler.runner import Reconciler

    kubeconfig = local_kubeconfig(settings)
    api_client = kube.new_api_client(kubeconfig)
    if args.install_crds:
        crds.install(kube.Kube(api_client))
    else:
        crds.check(kube.Kube(api_client))
    logger.info("reconciler against %s", kubeconfig or "the in-cluster service account")
    engine = _engine(settings)
    factory = db.session_factory(engine)
    return Reconciler(settings, api_client, factory, workers=args.workers, lease_namespace=settings.lease_namespace)


async def _render(settings: Settings, name_or_id: str) -> str:
    from controlplane.store import repository
    from reconciler.converge.source import Source
    from reconciler.render import manifests as render
    from reconciler.runner import render_options

    engine = _engine(settings)
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


@contextlib.contextmanager
def _health_server(reconciler: Any, args: argparse.Namespace) -> Iterator[None]:
    """The reconciler's /healthz, /readyz and /metrics while the block runs. A port already taken
    (several reconcilers on one machine) is said in the log, not fatal: in a pod, the probes that
    then fail restart it, with this line to say why."""
    from reconciler.health import HealthServer

    try:
        server = HealthServer(reconciler.health, args.health_host, args.health_port).start()
    except OSError as exc:
        logger.error(
            "cannot serve /healthz, /readyz and /metrics on %s:%d (%s); choose another --health-port",
            args.health_host, args.health_port, exc,
        )  # fmt: skip
        yield
        return
    try:
        yield
    finally:
        server.stop()


async def _run_reconciler(settings: Settings, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    reconciler = _reconciler(settings, args)
    with _health_server(reconciler, args):
        await reconciler.run(stop)


async def _serve_both(settings: Settings, args: argparse.Namespace) -> None:
    """API and reconciler in one process: the API's in-process change bus wakes the reconciler."""
    from controlplane.api.app import create_app

    await migrate.upgrade_async(settings.database_url)
    reconciler = _reconciler(settings, args)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_migrations=False),
            host=args.host,
            port=args.port,
            **logs.uvicorn_options(settings.log_level),
        )
    )
    stop = asyncio.Event()
    with _health_server(reconciler, args):
        running = asyncio.create_task(reconciler.run(stop))
        logger.info("procplane on http://%s:%d (%s)", args.host, args.port, describe(settings))
        try:
            await server.serve()
        finally:
            stop.set()
            await running


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"procplane: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
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
            _serve_api(settings, args.host, args.port, migrate_first=not args.no_migrate)
        elif args.command == "serve":
            asyncio.run(_serve_both(settings, args))
        else:
            asyncio.run(_run_reconciler(settings, args))
    except DomainError as exc:
        print(f"procplane: {exc.detail}", file=sys.stderr)
        return 1
    except MissingCRDs as exc:
        print(f"procplane: {exc}", file=sys.stderr)
        return 1
    return 0
