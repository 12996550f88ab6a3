from search.adapters.tables import metadata
from search.config import MIGRATIONS_DIR
from tripline.testing import assert_migrations_reversible, assert_tables_match_migrations


def test_migrations_apply_revert_and_apply_again(fresh_database_url: str) -> None:
    assert_migrations_reversible(MIGRATIONS_DIR, fresh_database_url)


def test_tables_match_the_schema_the_migrations_build(fresh_database_url: str) -> None:
    assert_tables_match_migrations(MIGRATIONS_DIR, fresh_database_url, metadata)
