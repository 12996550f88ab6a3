"""Guarded updates on seats and room-nights: the statements that make overselling impossible.

Every statement locks its rows in a fixed order (seat label, night) before changing them, so two holds that
overlap wait for each other instead of deadlocking; and every change is guarded by the state it expects, so a
row that changed meanwhile is simply not taken. Callers lock seats first, then nights, then schedule counters.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, text
from sqlalchemy.orm import Session

# READ COMMITTED re-checks a locked row's WHERE clause against its newest version, so a seat taken by a
# concurrent hold after our snapshot drops out here instead of being taken twice.
# https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED
_HOLD_SEATS = text("""
    WITH wanted AS (
        SELECT schedule_id, seat_no FROM seats
        WHERE schedule_id = :schedule_id AND seat_no = ANY(:seats) AND status = 'free'
        ORDER BY seat_no
        FOR UPDATE
    )
    UPDATE seats SET status = 'held', hold_id = :hold_id
    FROM wanted
    WHERE seats.schedule_id = wanted.schedule_id AND seats.seat_no = wanted.seat_no AND seats.status = 'free'
    RETURNING seats.seat_no
""")

_SELL_SEATS = text("UPDATE seats SET status = 'sold' WHERE hold_id = :hold_id AND status = 'held'")

_FREE_SEATS = text("""
    WITH taken AS (
        SELECT schedule_id, seat_no FROM seats WHERE hold_id = :hold_id ORDER BY schedule_id, seat_no FOR UPDATE
    )
    UPDATE seats SET status = 'free', hold_id = NULL
    FROM taken
    WHERE seats.schedule_id = taken.schedule_id AND seats.seat_no = taken.seat_no
    RETURNING seats.schedule_id
""")

_COUNT_SEATS = text("""
    UPDATE schedules SET available_seats = available_seats + :change, seats_version = seats_version + 1
    WHERE id = :schedule_id AND (:change >= 0 OR (status = 'active' AND departs_at > now()))
    RETURNING available_seats, seats_version
""")

# One statement per stay: its nights are locked in night order, and a night is changed only if it still has room
# for the change (always true when rooms move from held to sold or back to free), so taking rooms needs no
# separate check: fewer rows back than nights asked means some night was full.
_SHIFT_NIGHTS = text("""
    WITH stay AS (
        SELECT room_type_id, night FROM room_nights
        WHERE room_type_id = :room_type_id AND night >= :check_in AND night < :check_out
        ORDER BY night
        FOR UPDATE
    )
    UPDATE room_nights SET held = held + :held_change, sold = sold + :sold_change, version = version + 1
    FROM stay
    WHERE room_nights.room_type_id = stay.room_type_id AND room_nights.night = stay.night
      AND room_nights.held + room_nights.sold + :held_change + :sold_change <= room_nights.total
    RETURNING room_nights.*
""")


def hold_seats(session: Session, hold_id: uuid.UUID, schedule_id: uuid.UUID, seats: Sequence[str]) -> list[str]:
    """Hold those of ``seats`` that are free; returns the labels actually held."""
    rows = session.execute(_HOLD_SEATS, {"schedule_id": schedule_id, "seats": list(seats), "hold_id": hold_id})
    return [row.seat_no for row in rows]


def sell_seats(session: Session, hold_id: uuid.UUID) -> None:
    """Every seat held by ``hold_id`` becomes sold (still unavailable: the free count does not change)."""
    session.execute(_SELL_SEATS, {"hold_id": hold_id})


def free_seats(session: Session, hold_id: uuid.UUID) -> Counter[uuid.UUID]:
    """Give back every seat of ``hold_id``, held or sold; returns how many per schedule."""
    return Counter(row.schedule_id for row in session.execute(_FREE_SEATS, {"hold_id": hold_id}))


def count_seats(session: Session, schedule_id: uuid.UUID, change: int) -> tuple[int, int] | None:
    """Move a schedule's free-seat count by ``change``; returns ``(available_seats, seats_version)``.

    Taking seats (a negative change) is refused, returning None, once the schedule is cancelled or departed: this
    row lock is the one a cancellation takes, so a hold can never slip in after the cancellation committed.
    """
    row = session.execute(_COUNT_SEATS, {"schedule_id": schedule_id, "change": change}).first()
    return None if row is None else (row.available_seats, row.seats_version)


def shift_nights(
    session: Session, room_type_id: uuid.UUID, check_in: date, check_out: date, *, held: int, sold: int
) -> list[RowMapping]:
    """Add ``held`` and ``sold`` rooms (negative to give back) on each night of the stay that has room for them.

    Returns the nights changed, in order; taking rooms succeeded only if every night of the stay came back.
    """
    params = {
        "room_type_id": room_type_id,
        "check_in": check_in,
        "check_out": check_out,
        "held_change": held,
        "sold_change": sold,
    }
    return _by_night(session.execute(_SHIFT_NIGHTS, params).mappings().all())


def _by_night(rows: Sequence[RowMapping]) -> list[RowMapping]:
    return sorted(rows, key=lambda row: row["night"])
