"""Alembic environment for bookings's database."""

from tripline.migrations import run_env

from bookings.adapters.tables import metadata

run_env(metadata)
