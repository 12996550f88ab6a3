"""Servers and fakes shared by the devstack tests (real processes, no mocks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from devstack import SERVICES
from devstack.config import StackPaths
from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres
from devstack.pytest_plugin import server_directory
from devstack.readiness import free_port
from devstack.supervisor import stack_processes

FAKES = Path(__file__).parent / "fake_services"
STACK_VARIABLES = ("NATS_URL", "SEED", "GATEWAY_PORT", *(f"{s.upper()}_DATABASE_URL" for s in SERVICES))


@pytest.fixture(scope="session")
def embedded_postgres() -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL for the tests that only need a server."""
    with server_directory("postgres") as directory:
        server = EmbeddedPostgres(directory / "postgres")
        server.start()
        yield server
        server.stop()


@pytest.fixture(scope="session")
def embedded_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One NATS with JetStream for the tests that only need a server."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats") / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_services(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(PYTHONPATH, Procfile) for a stack whose services are the fakes in fake_services/."""
    root = tmp_path_factory.mktemp("fakes")
    shutil.copy(FAKES / "fake_service.py", root)
    lines = []
    for service in SERVICES:
        entrypoints = root / service / "entrypoints"
        entrypoints.mkdir(parents=True)
        (root / service / "__init__.py").write_text("")
        (entrypoints / "__init__.py").write_text("")
        (entrypoints / "cli.py").write_text(
            f"import sys\nimport fake_service\nsys.exit(fake_service.cli({service!r}, sys.argv[1:]))\n"
        )
        lines.append(f"{service}-web: python -m fake_service web {service} ${{{service.upper()}_PORT}}")
        lines.append(f"{service}-worker: python -m fake_service worker {service}")
    lines.append('gateway: caddy run --config "${STATE_DIR}/Caddyfile" --adapter caddyfile')
    procfile = root / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")
    return root, procfile


@pytest.fixture
def stack_env(tmp_path: Path, fake_services: tuple[Path, Path]) -> Iterator[dict[str, str]]:
    """Environment for `python -m devstack` on a fresh state dir; whatever it starts is downed after."""
    pythonpath, procfile = fake_services
    env = {key: value for key, value in os.environ.items() if key not in STACK_VARIABLES}
    env.update(
        STATE_DIR=str(tmp_path / "state"),
        GATEWAY_PORT=str(free_port()),
        DEVSTACK_PROCFILE=str(procfile),
        PYTHONPATH=str(pythonpath),
        DEVSTACK_READY_TIMEOUT="60",
    )
    yield env
    _devstack(env, "down")
    assert stack_processes(StackPaths(tmp_path / "state")) == []
    assert _processes_naming(tmp_path / "state") == []


Devstack = Callable[[dict[str, str], str], "subprocess.CompletedProcess[str]"]


@pytest.fixture
def devstack() -> Devstack:
    """Run `python -m devstack <command>` with an environment, to completion (bounded)."""
    return _devstack


@pytest.fixture
def processes_naming() -> Callable[[Path], list[psutil.Process]]:
    """Live processes whose command line names a path (a check independent of devstack's own)."""
    return _processes_naming


def _devstack(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", command], env=env, capture_output=True, text=True, timeout=180
    )


def _processes_naming(path: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if any(str(path) in arg for arg in process.cmdline()):
                found.append(process)
        except psutil.Error:
            continue
    return found
