"""Real PostgreSQL and NATS for test sessions: ``pytest_plugins = ["devstack.pytest_plugin"]``.

Each server starts once per session (in pytest's temporary directory) and stops when the session
ends. ``TEST_POSTGRES_ADMIN_URL`` / ``TEST_NATS_URL`` point the fixtures at servers that already run
instead (CI services, a developer's own server); those are neither started nor stopped.
Per-test databases: ``devstack.provision.create_database`` / ``drop_database`` with the admin URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Superuser URL of a PostgreSQL server on 127.0.0.1 for the whole session."""
    external = os.environ.get("TEST_POSTGRES_ADMIN_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("devstack") / "postgres")
    server.start()
    try:
        yield server.admin_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Client URL of a NATS server with JetStream on 127.0.0.1 for the whole session."""
    external = os.environ.get("TEST_NATS_URL")
    if external:
        yield external
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("devstack") / "nats")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
