"""The command line reads its arguments before it loads what the commands need, so `procplane
--help` (and a mistyped command) answers without importing the web framework, the database layer
or the Kubernetes client. How fast that is, is bench/cli.py's to measure."""

from __future__ import annotations

import subprocess
import sys

MARK = "--- modules loaded ---"
HEAVY = ("litestar", "sqlalchemy", "alembic", "uvicorn", "kubernetes", "controlplane.store", "reconciler")


def modules_loaded_by(*args: str) -> set[str]:
    probe = (
        "import sys\n"
        "from procplane import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(MARK, *sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"MARK = {MARK!r}\n" + probe], capture_output=True, text=True, check=True
    )
    # What follows the mark, apart from the help text argparse printed before it.
    return set(done.stdout.rpartition(MARK)[2].split())


def test_help_loads_no_command_machinery() -> None:
    loaded = modules_loaded_by("--help")
    assert "procplane.cli" in loaded
    assert not {name for name in loaded for heavy in HEAVY if name == heavy or name.startswith(f"{heavy}.")}


def test_a_mistyped_command_loads_no_command_machinery() -> None:
    loaded = modules_loaded_by("serv")
    assert not {name for name in loaded for heavy in HEAVY if name == heavy or name.startswith(f"{heavy}.")}
