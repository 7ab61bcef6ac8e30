"""Child processes of the cluster: started in their own process groups, stopped without leftovers.

Each component leads its own process group, so stopping it signals everything it may
have spawned. A component is remembered by pid *and* kernel start time, so a later
`down` never signals an unrelated process that happens to reuse a recorded pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

_PR_SET_PDEATHSIG = 1


@dataclasses.dataclass(frozen=True)
class Component:
    name: str
    pid: int
    start_time: int
    executable: str
    log: str


def _start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; the rest follows the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_running(component: Component) -> bool:
    return _start_time(component.pid) == component.start_time


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the test process is killed outright,
    # the kernel kills the component too instead of leaving it holding ports.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(
    name: str,
    argv: list[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    tie_to_parent: bool,
) -> tuple[subprocess.Popen[bytes], Component]:
    log.parent.mkdir(parents=True, exist_ok=True)
    preexec: Callable[[], None] | None = _die_with_parent if tie_to_parent else None
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            # preexec_fn is unsafe with threads; the cluster is started before any are.
            preexec_fn=preexec,
        )
    start_time = _start_time(process.pid)
    component = Component(
        name=name,
        pid=process.pid,
        start_time=start_time if start_time is not None else -1,
        executable=argv[0],
        log=str(log),
    )
    return process, component


def _signal_group(component: Component, sig: signal.Signals) -> None:
    if not is_running(component):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(component.pid, sig)


def _reap(pid: int) -> None:
    # Our own children linger as zombies until waited for; other processes' are not ours.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(components: Iterable[Component], *, grace: float = 10.0) -> list[str]:
    """SIGTERM each group, SIGKILL what is left after `grace`; return names that survived."""
    remaining = list(components)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for component in remaining:
            _signal_group(component, sig)
        deadline = time.monotonic() + wait
        while remaining and time.monotonic() < deadline:
            for component in remaining:
                _reap(component.pid)
            remaining = [c for c in remaining if is_running(c)]
            if remaining:
                time.sleep(0.1)
    return [c.name for c in remaining]


def rss_bytes(pid: int) -> int:
    """Resident memory of one process, 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0
