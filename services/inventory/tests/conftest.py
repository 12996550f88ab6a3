"""Inventory against a real PostgreSQL: one migrated database per session, emptied before each test."""

from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.api import create_app
from tripline.testing import service_fixtures

migrated_database_url, database_url, settings, app, client = service_fixtures(
    "inventory", MIGRATIONS_DIR, InventorySettings, create_app
)
