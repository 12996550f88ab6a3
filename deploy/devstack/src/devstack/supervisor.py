"""honcho runs the services and the gateway; this module starts it, finds its processes and stops them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import psutil

from devstack.config import StackPaths

STOP_TIMEOUT_SECONDS = 20.0


def honcho_command(procfile: Path, env_file: Path) -> list[str]:
    """honcho start for ``procfile`` with ``env_file``, run by this interpreter."""
    return [
        sys.executable,
        "-m",
        "honcho",
        "--no-colour",
        "--procfile",
        str(procfile),
        "--env",
        str(env_file),
        "--app-root",
        str(procfile.parent),
        "start",
    ]


def start_honcho(
    paths: StackPaths, procfile: Path, env: Mapping[str, str], output: IO[bytes] | int
) -> subprocess.Popen[bytes]:
    """Start honcho in a session of its own (so a terminal's Ctrl-C reaches us first) and record its pid."""
    process = subprocess.Popen(
        honcho_command(procfile, paths.env_file),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    paths.honcho_pid.write_text(f"{process.pid}\n")
    return process


def running_honcho(paths: StackPaths) -> psutil.Process | None:
    """The honcho recorded in the pid file, if it still runs (a recycled pid is not mistaken for it)."""
    try:
        process = psutil.Process(int(paths.honcho_pid.read_text().strip()))
        if process.status() != psutil.STATUS_ZOMBIE and str(paths.env_file) in process.cmdline():
            return process
    except (FileNotFoundError, ValueError, psutil.Error):
        pass
    return None


def stop_honcho(paths: StackPaths) -> list[psutil.Process]:
    """SIGTERM honcho's process group, wait, SIGKILL what is left; return the processes it had."""
    honcho = running_honcho(paths)
    paths.honcho_pid.unlink(missing_ok=True)
    if honcho is None:
        return []
    tree = [honcho, *_children(honcho)]
    # honcho forwards SIGTERM to each process group it started, waits up to 5 s, then SIGKILLs.
    _signal_group(honcho.pid, signal.SIGTERM)
    terminate(tree, STOP_TIMEOUT_SECONDS)
    return tree


def stack_processes(paths: StackPaths) -> list[psutil.Process]:
    """Every live process that belongs to the stack under ``paths.state_dir`` (never this one)."""
    mine = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter():
        if process.pid not in mine and _belongs_to_stack(process, paths):
            # Children too: PostgreSQL backends retitle themselves ("postgres: checkpointer").
            found.update((child.pid, child) for child in [process, *_children(process)])
    return [process for pid, process in found.items() if pid not in mine]


def terminate(processes: Iterable[psutil.Process], timeout: float) -> None:
    """SIGTERM the processes, wait up to ``timeout`` seconds, SIGKILL the survivors."""
    alive = [process for process in processes if _signal(process, signal.SIGTERM)]
    _, survivors = psutil.wait_procs(alive, timeout=timeout)
    for process in survivors:
        _signal(process, signal.SIGKILL)
    psutil.wait_procs(survivors, timeout=timeout)


def _belongs_to_stack(process: psutil.Process, paths: StackPaths) -> bool:
    try:
        if any(_within(arg, paths.state_dir) for arg in process.cmdline()):
            return True  # honcho, caddy, nats-server, the postmaster: each names a file in the state dir
        # Services and workers are recognised by the environment honcho gave them; a shell that
        # merely sourced stack.env has no HONCHO_PROCESS_NAME.
        environ = process.environ()
        return "HONCHO_PROCESS_NAME" in environ and environ.get("STATE_DIR") == str(paths.state_dir)
    except psutil.Error:
        return False


def _within(arg: str, directory: Path) -> bool:
    return arg == str(directory) or arg.startswith(f"{directory}{os.sep}")


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _signal(process: psutil.Process, signum: signal.Signals) -> bool:
    try:
        process.send_signal(signum)
        return True
    except psutil.NoSuchProcess:
        return False
