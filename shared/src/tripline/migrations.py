"""Alembic, driven from code: each service's migrations folder plus its database URL, no ini files."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, pool


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    """An Alembic configuration for one service's migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # ConfigParser interpolation would choke on a '%' in a URL-encoded password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Apply every migration not yet applied (safe to run on every deploy)."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def head_revision(migrations_dir: Path) -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory(str(migrations_dir)).get_current_head()


def known_revisions(migrations_dir: Path) -> frozenset[str]:
    """Every revision in the migrations folder."""
    return frozenset(script.revision for script in ScriptDirectory(str(migrations_dir)).walk_revisions())


def database_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py``: online migrations in one transaction per run."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=False)
        with context.begin_transaction():
            # Replicas deploying at once take turns; the second finds nothing left to do.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('alembic_migrations'))")
            context.run_migrations()
    engine.dispose()
