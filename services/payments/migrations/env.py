"""Alembic environment for payments's database."""

from tripline.migrations import run_env

from payments.adapters.tables import metadata

run_env(metadata)
