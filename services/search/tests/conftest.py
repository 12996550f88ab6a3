"""Search against a real PostgreSQL: one migrated database per session, emptied before each test."""

from search.config import MIGRATIONS_DIR, SearchSettings
from search.entrypoints.api import create_app
from tripline.testing import service_fixtures

migrated_database_url, database_url, settings, app, client = service_fixtures(
    "search", MIGRATIONS_DIR, SearchSettings, create_app
)
