"""Helpers for inventory's tests: tokens, SQL and the outbox (shared by every service's tests)."""

from tripline.testing import bearer, outbox_payloads, plain_url, sql

ADMIN = bearer("admin-1", "admin")

__all__ = ["ADMIN", "bearer", "outbox_payloads", "plain_url", "sql"]
