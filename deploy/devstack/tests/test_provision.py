"""One role and one database per service; a service's role cannot open another service's database."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from devstack import SERVICES
from devstack.postgres import EmbeddedPostgres
from devstack.provision import create_database, drop_database, provision_service_databases


@pytest.fixture(scope="module")
def service_urls(embedded_postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    secrets_dir = tmp_path_factory.mktemp("secrets")
    first = provision_service_databases(embedded_postgres.admin_url, secrets_dir=secrets_dir)
    second = provision_service_databases(embedded_postgres.admin_url, secrets_dir=secrets_dir)
    assert second == first  # idempotent, and passwords stable across runs
    return first


def test_each_service_connects_to_its_own_database_as_its_own_role(service_urls: dict[str, str]) -> None:
    assert set(service_urls) == set(SERVICES)
    for service, url in service_urls.items():
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_user, current_database()").fetchone()
            conn.execute("CREATE TABLE IF NOT EXISTS owned_by_service (id int)")  # it owns the schema
        assert row == (f"tripline_{service}", f"tripline_{service}")


def test_inventory_role_cannot_connect_to_the_bookings_database(service_urls: dict[str, str]) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(service_urls["inventory"], dbname="tripline_bookings")


def test_service_roles_are_not_privileged(service_urls: dict[str, str]) -> None:
    with psycopg.connect(service_urls["payments"]) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False, False)


def test_without_a_secrets_dir_fresh_passwords_still_connect(embedded_postgres: EmbeddedPostgres) -> None:
    urls = provision_service_databases(embedded_postgres.admin_url, ["search"])
    with psycopg.connect(urls["search"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("tripline_search",)


def test_create_database_from_a_template_with_an_owner_then_drop_it_while_connected(
    embedded_postgres: EmbeddedPostgres, service_urls: dict[str, str]
) -> None:
    admin = embedded_postgres.admin_url
    create_database(admin, "devstack_template", owner="tripline_search")
    with psycopg.connect(_database(admin, "devstack_template"), autocommit=True) as conn:
        conn.execute("CREATE TABLE seeded (id int)")
    create_database(admin, "devstack-copy", owner="tripline_search", template="devstack_template")

    session = psycopg.connect(_database(admin, "devstack-copy"))
    assert session.execute("SELECT count(*) FROM seeded").fetchone() == (0,)
    drop_database(admin, "devstack-copy")  # forces the open session out
    drop_database(admin, "devstack_template")
    drop_database(admin, "devstack_template")  # dropping what does not exist is fine
    session.close()

    with psycopg.connect(admin) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert not names & {"devstack_template", "devstack-copy"}


def _database(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)
