"""Bookings against a real PostgreSQL: one migrated database per session, emptied before each test."""

from bookings.config import MIGRATIONS_DIR, BookingsSettings
from bookings.entrypoints.api import create_app
from tripline.testing import service_fixtures

migrated_database_url, database_url, settings, app, client = service_fixtures(
    "bookings", MIGRATIONS_DIR, BookingsSettings, create_app
)
