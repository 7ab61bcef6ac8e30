"""Build the pinned tools from the Go module proxy into a per-version cache.

Each tool lands in `<tools dir>/<name>-<version>/` next to a fingerprint of the inputs
(go.mod, go.sum, linker flags); a directory whose fingerprint matches is reused as is,
so only the first run on a machine pays for compiling Kubernetes.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.support.localcluster import versions

FINGERPRINT_FILE = ".fingerprint"
TOOLS_DIR_ENV = "PROCPLANE_TOOLS_DIR"

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """A tool could not be built; the message says which, why, and the tail of the output."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tools_dir() -> Path:
    override = os.environ.get(TOOLS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "procplane" / "tools"


def tool_dir(tool: versions.Tool) -> Path:
    return tools_dir() / tool.key


def binary_path(name: str) -> Path:
    """Path of a pinned binary (e.g. "kube-apiserver"), whether or not it is built yet."""
    for tool in versions.ALL:
        for binary in tool.binaries:
            if binary.name == name:
                return tool_dir(tool) / binary.name
    raise KeyError(f"no pinned tool provides {name!r}")


def _ldflags(tool: versions.Tool) -> str:
    # -s -w: symbol tables are never needed here and drop a third of each binary's size.
    parts = ["-s", "-w"] + [f"-X={name}={value}" for name, value in tool.ldflags_x]
    return " ".join(parts)


def fingerprint(tool: versions.Tool) -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        path = tool.gomod_dir / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    digest.update(_ldflags(tool).encode())
    digest.update(" ".join(b.name + "=" + b.package for b in tool.binaries).encode())
    return digest.hexdigest()


def is_built(tool: versions.Tool) -> bool:
    directory = tool_dir(tool)
    stamp = directory / FINGERPRINT_FILE
    if not stamp.is_file() or stamp.read_text().strip() != fingerprint(tool):
        return False
    return all(os.access(directory / b.name, os.X_OK) for b in tool.binaries)


def _go_binary() -> str:
    go = shutil.which(os.environ.get("GO", "go"))
    if go is None:
        raise BuildError(
            "the Go toolchain was not found on PATH (set GO to its path); "
            "Go 1.26 or newer builds the local cluster's tools"
        )
    return go


def _check_pin(tool: versions.Tool) -> None:
    gomod = tool.gomod_dir / "go.mod"
    if not gomod.is_file():
        raise BuildError(f"{tool.key}: {gomod} is missing")
    pin = re.search(rf"^\s*(?:require\s+)?{re.escape(tool.module)}\s+(\S+)", gomod.read_text(), re.M)
    if pin is None or pin.group(1) != tool.version:
        found = pin.group(1) if pin else "nothing"
        raise BuildError(f"{tool.key}: {gomod} requires {tool.module} {found}, but versions.py pins {tool.version}")


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Static binaries need no C toolchain and run on any Linux the cache is copied to.
    env["CGO_ENABLED"] = "0"
    # A go.work above the checkout must not leak other modules into these builds.
    env["GOWORK"] = "off"
    return env


def _hint(output: Iterable[str]) -> str:
    text = "\n".join(output)
    if re.search(r"dial tcp|proxyconnect|no such host|i/o timeout|connection refused", text):
        return "hint: the Go module proxy could not be reached; check `go env GOPROXY` and the network"
    if re.search(r"missing go.sum entry|verifying .*: checksum mismatch", text):
        return "hint: go.sum does not match the module proxy; run `go mod tidy` in the tool's gomod directory"
    if re.search(r"signal: killed|cannot allocate memory", text):
        return "hint: the compiler or linker was killed, most likely out of memory"
    if "requires go >=" in text or "toolchain" in text:
        return "hint: the installed Go is too old for this module; install a newer Go"
    return ""


def _goproxy(go: str, env: dict[str, str]) -> str:
    result = subprocess.run([go, "env", "GOPROXY"], env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip() or "the module proxy"


def _count_packages(go: str, tool: versions.Tool, env: dict[str, str]) -> int | None:
    packages = [b.package for b in tool.binaries]
    result = subprocess.run(
        [go, "list", "-deps", *packages],
        cwd=tool.gomod_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-30:]
        hint = _hint(tail)
        raise BuildError(
            f"{tool.key}: resolving modules failed (go list exit {result.returncode})\n"
            + "\n".join(tail)
            + (f"\n{hint}" if hint else "")
        )
    return len(result.stdout.split())


def _format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def build(tool: versions.Tool, *, log: Log = _stderr, force: bool = False) -> Path:
    """Build `tool` unless a matching build is cached; return its directory."""
    final = tool_dir(tool)
    if not force and is_built(tool):
        log(f"[{tool.key}] cached in {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    # Two test runs or `make` jobs may want the same tool at once: one builds, the other
    # waits and then finds it cached.
    with (final.parent / f".{tool.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_built(tool):
            log(f"[{tool.key}] cached in {final}")
            return final
        return _build_locked(tool, final, log)


def _build_locked(tool: versions.Tool, final: Path, log: Log) -> Path:
    _check_pin(tool)
    go = _go_binary()
    env = _go_env()
    started = time.monotonic()
    log(f"[{tool.key}] resolving modules through {_goproxy(go, env)}")
    total = _count_packages(go, tool, env)
    log(f"[{tool.key}] modules resolved in {_format_elapsed(time.monotonic() - started)}")

    staging = final.parent / f".{tool.key}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if len(tool.binaries) == 1:
        output = str(staging / tool.binaries[0].name)
    else:
        # One `go build` for several commands compiles their shared packages once.
        for binary in tool.binaries:
            if binary.package.rsplit("/", 1)[-1] != binary.name:
                raise BuildError(f"{tool.key}: {binary.package} would not be named {binary.name}")
        output = str(staging) + os.sep
    command = [
        go, "build", "-v", "-trimpath", f"-ldflags={_ldflags(tool)}", "-o", output,
        *(b.package for b in tool.binaries),
    ]  # fmt: skip
    log(f"[{tool.key}] compiling {', '.join(b.name for b in tool.binaries)} (up to {total} packages)")
    returncode, tail = _run_with_progress(command, tool, env, total, started, log)
    if returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        hint = _hint(tail)
        raise BuildError(
            f"building {tool.key} failed: go build exited with {returncode} after "
            f"{_format_elapsed(time.monotonic() - started)}\n" + "\n".join(tail) + (f"\n{hint}" if hint else "")
        )
    (staging / FINGERPRINT_FILE).write_text(fingerprint(tool) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    log(f"[{tool.key}] built in {_format_elapsed(time.monotonic() - started)} -> {final}")
    return final


def _run_with_progress(
    command: list[str],
    tool: versions.Tool,
    env: dict[str, str],
    total: int | None,
    started: float,
    log: Log,
) -> tuple[int, list[str]]:
    compiled = 0
    tail: collections.deque[str] = collections.deque(maxlen=40)
    last_report = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=tool.gomod_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            # `go build -v` names each package as it compiles it; anything else is a diagnostic.
            if line and " " not in line and not line.startswith("#"):
                compiled += 1
            else:
                tail.append(line)
            now = time.monotonic()
            if now - last_report >= 15:
                last_report = now
                of = f"/{total}" if total else ""
                log(f"[{tool.key}] {compiled}{of} packages compiled, {_format_elapsed(now - started)}")
        returncode = process.wait()
    return returncode, list(tail)


def ensure(tools: Iterable[versions.Tool] = versions.ALL, *, log: Log = _stderr) -> dict[str, Path]:
    """Build every tool not yet cached; return tool name -> directory."""
    return {tool.name: build(tool, log=log) for tool in tools}
