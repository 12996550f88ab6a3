"""Every test session shares one embedded PostgreSQL and one NATS, started from the pip wheels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from devstack.provision import scratch_database

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
