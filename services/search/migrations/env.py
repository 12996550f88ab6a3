"""Alembic environment for search's database."""

from tripline.migrations import run_env

from search.adapters.tables import metadata

run_env(metadata)
