"""Booking rows and their history: reading, locking, changing, and the timers' work lists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from bookings.adapters.tables import booking_transitions, bookings
from bookings.domain.lifecycle import TRANSITIONAL, Status


def add(session: Session, *, deadline_in: timedelta, **values: Any) -> RowMapping | None:
    """Insert a new booking, created now on the database's clock (read by this statement, no round trip of its own)
    with its step deadline ``deadline_in`` later, and return it; None if a booking with its id exists already."""
    now = func.now()
    statement = (
        upsert(bookings)
        .values(**values, created_at=now, updated_at=now, deadline_at=now + deadline_in)
        .on_conflict_do_nothing()
        .returning(bookings)
    )
    return session.execute(statement).mappings().first()


def lock(session: Session, booking_id: uuid.UUID) -> tuple[RowMapping, datetime] | None:
    """The booking, locked until the transaction ends (every change to a booking goes through this lock), with the
    database's clock read by the same statement; None if there is no such booking.

    The clock is the statement's, not the transaction's (``now()``): replies handled together share a transaction
    that may have started a while before this one's turn."""
    row = (
        session.execute(
            select(bookings, func.statement_timestamp().label("database_now"))
            .where(bookings.c.id == booking_id)
            .with_for_update(of=bookings)
        )
        .mappings()
        .first()
    )
    return None if row is None else (row, row["database_now"])


def find(session: Session, booking_id: uuid.UUID) -> RowMapping | None:
    """The booking as it stands, unlocked."""
    return session.execute(select(bookings).where(bookings.c.id == booking_id)).mappings().first()


@dataclass(frozen=True)
class Transition:
    """One row of a booking's history: a status change, when, why, and what caused it."""

    from_status: Status | None
    to_status: Status
    at: datetime
    reason: str
    message_id: uuid.UUID | None
    request_key: str | None = None

    def values(self, booking_id: uuid.UUID) -> dict[str, Any]:
        return {
            "booking_id": booking_id,
            "from_status": self.from_status.value if self.from_status else None,
            "to_status": self.to_status.value,
            "at": self.at,
            "reason": self.reason,
            "message_id": self.message_id,
            "request_key": self.request_key,
        }


def change(
    session: Session, booking_id: uuid.UUID, values: dict[str, Any], noting: Transition | None = None
) -> RowMapping:
    """Write ``values`` to a locked booking and, if given, add ``noting`` to its history in the same statement (a
    round trip fewer per move); returns the changed row."""
    statement = update(bookings).where(bookings.c.id == booking_id).values(**values).returning(bookings)
    if noting is not None:
        statement = statement.add_cte(insert(booking_transitions).values(noting.values(booking_id)).cte("noted"))
    return session.execute(statement).mappings().one()


def add_transition(session: Session, booking_id: uuid.UUID, transition: Transition) -> None:
    """One row of the booking's history."""
    session.execute(insert(booking_transitions).values(transition.values(booking_id)))


def changed_by_request(session: Session, booking_id: uuid.UUID, request_key: str) -> bool:
    """Whether the request with this key already changed the booking."""
    found = session.execute(
        select(booking_transitions.c.id).where(
            booking_transitions.c.booking_id == booking_id, booking_transitions.c.request_key == request_key
        )
    ).first()
    return found is not None


def transitions(session: Session, booking_id: uuid.UUID) -> list[RowMapping]:
    """The booking's history, oldest first."""
    return list(
        session.execute(
            select(booking_transitions)
            .where(booking_transitions.c.booking_id == booking_id)
            .order_by(booking_transitions.c.id)
        ).mappings()
    )


@dataclass(frozen=True)
class Filters:
    """Which bookings a list shows."""

    customer_id: str | None = None
    status: Status | None = None
    include_deleted: bool = False
    stuck: bool = False


def page(session: Session, filters: Filters, before: tuple[datetime, uuid.UUID] | None, limit: int) -> list[RowMapping]:
    """Up to ``limit + 1`` bookings newest first, after the position ``before`` (so callers see if more follow)."""
    query = select(bookings).where(*_conditions(filters))
    if before is not None:
        query = query.where(tuple_(bookings.c.created_at, bookings.c.id) < tuple_(*before))
    query = query.order_by(bookings.c.created_at.desc(), bookings.c.id.desc()).limit(limit + 1)
    return list(session.execute(query).mappings())


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.customer_id is not None:
        conditions.append(bookings.c.customer_id == filters.customer_id)
    if filters.status is not None:
        conditions.append(bookings.c.status == filters.status.value)
    if not filters.include_deleted:
        conditions.append(bookings.c.deleted_at.is_(None))
    if filters.stuck:
        conditions.append(is_stuck())
    return conditions


def is_stuck() -> ColumnElement[bool]:
    """A transitional booking past its deadline."""
    return and_(bookings.c.status.in_([s.value for s in TRANSITIONAL]), bookings.c.deadline_at < func.now())


def count_stuck(session: Session) -> int:
    """How many bookings are stuck now."""
    return int(session.execute(select(func.count()).select_from(bookings).where(is_stuck())).scalar_one())


def claim_due(session: Session, status: Status, due_column: str, limit: int) -> list[RowMapping]:
    """Bookings in ``status`` whose ``due_column`` has passed, locked; rows another timer holds are skipped."""
    column = bookings.c[due_column]
    return list(
        session.execute(
            select(bookings)
            .where(bookings.c.status == status.value, column <= func.now())
            .order_by(column)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).mappings()
    )
