"""Refusals every inventory use case shares: unknown or not the caller's, and a unique key already taken."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError

from tripline.auth.tokens import Principal

Owned = TypeVar("Owned", bound=Mapping[Any, Any])  # a row that names the account it belongs to


class NotVisible(Exception):
    """Nothing by that id that the caller may see: unknown and not-yours must be indistinguishable."""

    def __init__(self, what: str):
        super().__init__(f"no such {what}")
        self.what = what


def visible_to(viewer: Principal, row: Owned | None, what: str) -> Owned:
    """The row, if it exists and its ``account_id`` is the viewer's or the viewer is an admin; else ``NotVisible``."""
    if row is None or not (viewer.is_admin or viewer.sub == row["account_id"]):
        raise NotVisible(what)
    return row


def violates_unique(error: IntegrityError, constraint: str) -> bool:
    """Whether the statement failed on the unique constraint named ``constraint`` (and not on another one)."""
    # The unique index decides, not a prior SELECT: of two concurrent writers, exactly one gets past it.
    return isinstance(error.orig, UniqueViolation) and error.orig.diag.constraint_name == constraint
