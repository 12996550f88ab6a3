"""Alembic environment for inventory's database."""

from tripline.migrations import run_env

from inventory.adapters.tables import metadata

run_env(metadata)
