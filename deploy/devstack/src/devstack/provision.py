"""One database and one role per service, so no service can reach another's data."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from devstack import SERVICES

ROLE_SECRET_FILE = "database-roles.secret"  # noqa: S105 - a file name, not a secret


def service_database_name(service: str) -> str:
    """Name of the service's database, which is also the name of its role."""
    return f"tripline_{service}"


def provision_service_databases(
    admin_url: str, services: Sequence[str] = SERVICES, *, secrets_dir: Path | None = None
) -> dict[str, str]:
    """Create (idempotently) each service's role and database; return ``{service: database URL}``.

    Passwords are derived from a secret kept in ``secrets_dir`` so they are stable across restarts;
    without ``secrets_dir`` (a throwaway test server) each call sets fresh random passwords.
    """
    secret = _role_secret(secrets_dir) if secrets_dir is not None else None
    urls = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for service in services:
            name = service_database_name(service)
            password = _password(secret, name)
            _ensure_role(conn, name, password)
            _ensure_database(conn, name, owner=name)
            _restrict_connect(conn, name, role=name)
            urls[service] = _database_url(admin_url, name, password)
    return urls


def create_database(admin_url: str, name: str, owner: str | None = None, template: str | None = None) -> None:
    """Create database ``name`` (a template must have no open connections while it is copied)."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if owner is not None:
        query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
    if template is not None:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(query)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions first."""
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(query)


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new empty database named ``<prefix>_<random>`` as a SQLAlchemy URL, dropped on exit (for tests)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create_database(admin_url, name)
    try:
        yield _sqlalchemy_url(admin_url, name)
    finally:
        drop_database(admin_url, name)


def _sqlalchemy_url(admin_url: str, database: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{database}"))


def _ensure_role(conn: psycopg.Connection, role: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
    # Setting the password on an existing role too heals a role left by an older secret. DDL takes
    # no bind parameters, so the password is a client-side quoted literal, never string-formatted.
    conn.execute(
        sql.SQL("{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            verb, sql.Identifier(role), sql.Literal(password)
        )
    )


def _ensure_database(conn: psycopg.Connection, name: str, owner: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))


def _restrict_connect(conn: psycopg.Connection, name: str, role: str) -> None:
    # Every role is a member of PUBLIC, which gets CONNECT and TEMPORARY on new databases by default;
    # without this REVOKE the inventory role could open the bookings database.
    # https://www.postgresql.org/docs/current/ddl-priv.html#PRIVILEGES-SUMMARY-TABLE
    database = sql.Identifier(name)
    conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(database, sql.Identifier(role)))


def _role_secret(secrets_dir: Path) -> bytes:
    path = secrets_dir / ROLE_SECRET_FILE
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _password(secret: bytes | None, role: str) -> str:
    if secret is None:
        return secrets.token_hex(16)
    return hmac.new(secret, role.encode(), hashlib.sha256).hexdigest()[:32]


def _database_url(admin_url: str, name: str, password: str) -> str:
    """Same server as ``admin_url``, the service's role and database."""
    params = conninfo_to_dict(admin_url)
    host, port = params.get("host") or "127.0.0.1", params.get("port") or "5432"
    return f"postgresql://{name}:{quote(password, safe='')}@{host}:{port}/{name}"
