"""Every test session shares one embedded PostgreSQL and one NATS, started from the pip wheels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from devstack import SERVICES
from devstack.provision import provision_service_databases, scratch_database
from tripline.migrations import upgrade_to_head

pytest_plugins = ["devstack.pytest_plugin"]


@pytest.fixture
def fresh_database_url(postgres_admin_url: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    with scratch_database(postgres_admin_url, "test") as url:
        yield url


@pytest.fixture(scope="session")
def scratch_databases(postgres_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Make empty databases named after a prefix, each dropped when the session ends."""
    with ExitStack() as stack:
        yield lambda prefix: stack.enter_context(scratch_database(postgres_admin_url, prefix))


@pytest.fixture(scope="session")
def provisioned(postgres_admin_url: str, nats_url: str) -> dict[str, str]:
    """Every service's database, migrated, reached through the service's own role; provisioned once per session,
    as provisioning again gives the roles new passwords."""
    urls = provision_service_databases(postgres_admin_url)
    for service in SERVICES:
        upgrade_to_head(_migrations_dir(service), urls[service])
    return urls


def _migrations_dir(service: str) -> Path:
    module = __import__(f"{service}.config", fromlist=["MIGRATIONS_DIR"])
    return Path(module.MIGRATIONS_DIR)
