"""Real PostgreSQL and NATS for test sessions: ``pytest_plugins = ["devstack.pytest_plugin"]``.

Each server starts once per session and stops when the session ends; PostgreSQL's directory is outside
pytest's temporary root (``server_directory``). ``TEST_POSTGRES_ADMIN_URL`` / ``TEST_NATS_URL`` point the
fixtures at servers that already run instead (CI services, a developer's own server); those are neither
started nor stopped.
Per-test databases: ``devstack.provision.create_database`` / ``drop_database`` with the admin URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """Superuser URL of a PostgreSQL server on 127.0.0.1 for the whole session."""
    with server_directory("postgres") as directory:
        yield from _session_server("TEST_POSTGRES_ADMIN_URL", lambda: EmbeddedPostgres(directory / "postgres"))


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Client URL of a NATS server with JetStream on 127.0.0.1 for the whole session."""
    yield from _session_server("TEST_NATS_URL", lambda: EmbeddedNats(tmp_path_factory.mktemp("devstack") / "nats"))


def _session_server(variable: str, embedded: Callable[[], EmbeddedPostgres | EmbeddedNats]) -> Iterator[str]:
    """The server named by ``variable`` if set (left running), else an embedded one stopped at the end."""
    external = os.environ.get(variable)
    if external:
        yield external
        return
    server = embedded()
    server.start()
    try:
        yield server.admin_url if isinstance(server, EmbeddedPostgres) else server.url
    finally:
        server.stop()


@contextmanager
def server_directory(name: str) -> Iterator[Path]:
    """A directory for a server that lives as long as a session, outside pytest's temporary root; removed after.

    As root, devstack runs PostgreSQL as an unprivileged user, who must be able to pass through every folder above
    its data. pytest takes group and other permissions off its root (``pytest-of-<user>``) whenever any session
    starts, another developer's or a test's own inner session: a server in there would be locked out of its own
    files and stop at its next checkpoint.
    """
    path = Path(tempfile.mkdtemp(prefix=f"tripline-test-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
