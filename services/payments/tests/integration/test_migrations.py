from payments.adapters.tables import metadata
from payments.config import MIGRATIONS_DIR
from tripline.testing import assert_migrations_reversible, assert_tables_match_migrations


def test_migrations_apply_revert_and_apply_again(fresh_database_url: str) -> None:
    assert_migrations_reversible(MIGRATIONS_DIR, fresh_database_url)


def test_tables_match_what_the_migrations_build(fresh_database_url: str) -> None:
    assert_tables_match_migrations(MIGRATIONS_DIR, fresh_database_url, metadata)
