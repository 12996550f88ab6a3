"""The embedded PostgreSQL: TCP on 127.0.0.1, a free port, a password even for the superuser."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from devstack.postgres import EmbeddedPostgres


def test_starts_on_a_free_port_and_accepts_connections_on_loopback(embedded_postgres: EmbeddedPostgres) -> None:
    assert embedded_postgres.port not in (None, 5432)
    with psycopg.connect(embedded_postgres.admin_url) as conn:
        row = conn.execute("SELECT host(inet_server_addr()), current_setting('listen_addresses')").fetchone()
    assert row == ("127.0.0.1", "127.0.0.1")


def test_admin_url_is_the_superuser_on_loopback(embedded_postgres: EmbeddedPostgres) -> None:
    url = embedded_postgres.admin_url
    assert url.startswith("postgresql://postgres:")
    assert url.endswith(f"@127.0.0.1:{embedded_postgres.port}/postgres")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)


def test_superuser_cannot_connect_over_tcp_without_the_password(embedded_postgres: EmbeddedPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host="127.0.0.1",
            port=embedded_postgres.port,
            user="postgres",
            dbname="postgres",
            password="wrong",
            passfile="/dev/null",
        )


def test_password_file_is_readable_by_its_owner_only(embedded_postgres: EmbeddedPostgres) -> None:
    mode = stat.S_IMODE(embedded_postgres.password_path.stat().st_mode)
    assert mode == 0o600


def test_start_on_a_running_data_dir_reuses_the_server(embedded_postgres: EmbeddedPostgres) -> None:
    again = EmbeddedPostgres(embedded_postgres.data_dir)
    assert again.start() is False
    assert again.port == embedded_postgres.port
    assert again.admin_url == embedded_postgres.admin_url


def test_lower_is_unicode_aware(embedded_postgres: EmbeddedPostgres) -> None:
    # City names are matched case-insensitively; the builtin C.UTF-8 locale must fold non-ASCII too.
    with psycopg.connect(embedded_postgres.admin_url) as conn:
        assert conn.execute("SELECT lower('ÉCOLE Bengaluru')").fetchone() == ("école bengaluru",)


def test_stop_then_start_keeps_the_data_and_stop_is_idempotent(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres")
    assert server.start() is True
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE kept")
    assert server.stop() is True
    assert server.stop() is False
    assert server.running_port() is None

    restarted = EmbeddedPostgres(tmp_path / "postgres")
    assert restarted.start() is True
    try:
        with psycopg.connect(restarted.admin_url) as conn:
            assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'kept'").fetchone() == (1,)
    finally:
        restarted.stop()
    assert restarted.server_pid() is None
