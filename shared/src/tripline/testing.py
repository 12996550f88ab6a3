"""Checks every service's test suite runs against its own migrations (imported by tests only)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.migrations import alembic_config, database_revision, head_revision


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
