"""Payments against a real PostgreSQL: one migrated database per session, emptied before each test."""

from payments.config import MIGRATIONS_DIR, PaymentsSettings
from payments.entrypoints.api import create_app
from tripline.testing import service_fixtures

migrated_database_url, database_url, settings, app, client = service_fixtures(
    "payments", MIGRATIONS_DIR, PaymentsSettings, create_app
)
