"""Checks every service's test suite runs against its own migrations (imported by tests only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, create_engine, inspect

from tripline.auth.tokens import issue_dev_token
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.migrations import alembic_config, database_revision, head_revision, upgrade_to_head
from tripline.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def assert_migrations_reversible(migrations_dir: Path, database_url: str) -> None:
    """Upgrade to head, downgrade to nothing, upgrade again: every step must succeed and leave no residue."""
    config = alembic_config(migrations_dir, database_url)
    command.upgrade(config, "head")
    engine = create_engine(database_url)
    try:
        assert database_revision(engine) == head_revision(migrations_dir)
        command.downgrade(config, "base")
        leftovers = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert not leftovers, f"downgrade left tables behind: {sorted(leftovers)}"
        command.upgrade(config, "head")
        assert database_revision(engine) == head_revision(migrations_dir)
    finally:
        engine.dispose()


def assert_tables_match_migrations(migrations_dir: Path, database_url: str, metadata: MetaData) -> None:
    """The service's table definitions and the schema its migrations build must not drift apart."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert not differences, f"tables and migrations differ: {differences}"


class FakeOutbox:
    """Same ``add`` as ``tripline.messaging.outbox.Outbox``; keeps the envelopes in a list."""

    def __init__(self, source: str = "testing"):
        self.source = source
        self.messages: list[Envelope] = []

    def add(
        self, payload: Contract, *, correlation_id: str | None = None, causation: Envelope | None = None
    ) -> Envelope:
        """Record the message as the real outbox would write it."""
        envelope = Envelope.wrap(payload, source=self.source, correlation_id=correlation_id, causation=causation)
        self.messages.append(envelope)
        return envelope


class FakeUnitOfWork:
    """Same shape as ``OutboxUnitOfWork`` for service-layer unit tests: no database, commits counted."""

    def __init__(self, source: str = "testing"):
        self.outbox = FakeOutbox(source)
        self.commits = 0

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def commit(self) -> None:
        """Count the commit."""
        self.commits += 1

    def rollback(self) -> None:
        """Nothing to undo in memory."""


def bearer(sub: str, role: str) -> dict[str, str]:
    """Headers carrying a development token for ``sub`` in ``role``."""
    return {"Authorization": f"Bearer {issue_dev_token(sub, role)}"}


def plain_url(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def sql(database_url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction and return its rows (empty for statements without rows)."""
    with psycopg.connect(plain_url(database_url), autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def outbox_payloads(database_url: str, subject: str) -> list[dict[str, Any]]:
    """Payloads queued in the outbox on ``subject``, oldest first."""
    rows = sql(database_url, "SELECT envelope FROM outbox WHERE subject = %s ORDER BY created_at, id", subject)
    return [row[0]["payload"] for row in rows]


def empty_every_table(database_url: str) -> None:
    """Truncate every table but Alembic's, so a session's migrated database starts each test empty."""
    with psycopg.connect(plain_url(database_url), autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        connection.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


def service_fixtures(
    service: str, migrations_dir: Path, settings_type: type[S], create_app: Callable[[S], Flask]
) -> tuple[Any, ...]:
    """A service's test fixtures: ``migrated_database_url`` (once per session), ``database_url`` (emptied for each
    test), ``settings``, ``app`` and ``client``. A service's conftest assigns them to those very names."""

    @pytest.fixture(name="migrated_database_url", scope="session")
    def migrated_database_url(scratch_databases: Callable[[str], str]) -> str:
        url = scratch_databases(service)
        upgrade_to_head(migrations_dir, url)
        return url

    @pytest.fixture(name="database_url")
    def database_url(migrated_database_url: str) -> str:
        empty_every_table(migrated_database_url)
        return migrated_database_url

    @pytest.fixture(name="settings")
    def settings(database_url: str) -> S:
        return settings_type(database_url=database_url)

    @pytest.fixture(name="app")
    def app(settings: S) -> Iterator[Flask]:
        app = create_app(settings)
        yield app
        app.extensions["tripline"].close()

    @pytest.fixture(name="client")
    def client(app: Flask) -> FlaskClient:
        return app.test_client()

    return migrated_database_url, database_url, settings, app, client


def assert_problem(response: Any, status: int, code: str, field: str | None = None) -> None:
    """``response`` is a problem-details answer with ``status`` and ``code`` (and an error naming ``field``)."""
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code
    if field is not None:
        assert field in [error["field"] for error in response.json["errors"]], response.json


def assert_same_not_found(first: Any, second: Any) -> None:
    """Not-yours and unknown must be indistinguishable (apart from the echoed path and request id)."""
    echoed = ("instance", "request_id")
    bodies = [{k: v for k, v in r.json.items() if k not in echoed} for r in (first, second) if r.status_code == 404]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]


def truncate_every_table(url: str) -> None:
    """Empty every table of the database but Alembic's."""
    with psycopg.connect(url, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            connection.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in tables) + " CASCADE")
