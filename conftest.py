"""Every test session shares one embedded PostgreSQL and one NATS, started from the pip wheels."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from devstack.provision import create_database, drop_database

pytest_plugins = ["devstack.pytest_plugin"]


@pytest.fixture
def fresh_database_url(postgres_admin_url: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    create_database(postgres_admin_url, name)
    url = make_url(postgres_admin_url).set(drivername="postgresql+psycopg", database=name)
    yield url.render_as_string(hide_password=False)
    drop_database(postgres_admin_url, name)
