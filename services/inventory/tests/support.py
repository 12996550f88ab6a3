"""Helpers for inventory's tests: tokens, SQL and the outbox."""

from __future__ import annotations

from typing import Any

import psycopg

from tripline.auth.tokens import issue_dev_token


def bearer(sub: str, role: str) -> dict[str, str]:
    """Headers carrying a development token for ``sub`` in ``role``."""
    return {"Authorization": f"Bearer {issue_dev_token(sub, role)}"}


ADMIN = bearer("admin-1", "admin")


def sql(database_url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the inventory database and return its rows (empty for statements without rows)."""
    with psycopg.connect(plain_url(database_url), autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def outbox_payloads(database_url: str, subject: str) -> list[dict[str, Any]]:
    """Payloads queued in the outbox on ``subject``, oldest first."""
    rows = sql(database_url, "SELECT envelope FROM outbox WHERE subject = %s ORDER BY created_at, id", subject)
    return [row[0]["payload"] for row in rows]


def plain_url(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
