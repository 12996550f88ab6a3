"""Inventory against a real PostgreSQL: one migrated database per session, emptied before each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from devstack.provision import create_database, drop_database
from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.api import create_app
from tripline.migrations import upgrade_to_head

from .support import plain_url


@pytest.fixture(scope="session")
def inventory_database_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"inventory_{uuid.uuid4().hex[:12]}"
    create_database(postgres_admin_url, name)
    url = make_url(postgres_admin_url).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    upgrade_to_head(MIGRATIONS_DIR, rendered)
    yield rendered
    drop_database(postgres_admin_url, name)


@pytest.fixture
def database_url(inventory_database_url: str) -> str:
    """The session's inventory database, with every table emptied."""
    with psycopg.connect(plain_url(inventory_database_url), autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        connection.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
    return inventory_database_url


@pytest.fixture
def settings(database_url: str) -> InventorySettings:
    return InventorySettings(database_url=database_url)


@pytest.fixture
def app(settings: InventorySettings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["tripline"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
