from search.config import MIGRATIONS_DIR
from tripline.testing import assert_migrations_reversible


def test_migrations_apply_revert_and_apply_again(fresh_database_url: str) -> None:
    assert_migrations_reversible(MIGRATIONS_DIR, fresh_database_url)
