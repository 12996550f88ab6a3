"""Reading the services' databases: read-only connections, one REPEATABLE READ snapshot of each database.

Inventory is read first, payments next, bookings last. Bookings only learns what inventory and payments did after
they committed it, so a booking read last never reports a step whose effect the earlier snapshots cannot show,
unless it changed after the audit began; the checks count such a booking as in flight.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from bookings.domain.lifecycle import Status
from payments.service_layer.audit import audit_ledger
from tripline.db import UnitOfWork
from tripline_ops.audit.records import (
    Booking,
    BookingPayment,
    BookingsSnapshot,
    BookingTransaction,
    Hold,
    InventorySnapshot,
    Items,
    LedgerFinding,
    PaymentsSnapshot,
    RoomNight,
    SeatCount,
    SeatRow,
    Wallet,
)

SERVICES = ("inventory", "bookings", "payments")
APPLICATION_NAME = "tripline-audit"
# Every transaction on the audit's connections starts read-only, so no query of the audit's can write; the role
# itself can, unless the deployment gives the audit a role allowed to SELECT only (as production should).
# https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-DEFAULT-TRANSACTION-READ-ONLY
SESSION_OPTIONS = "-c default_transaction_read_only=on -c timezone=UTC"
CONNECT_TIMEOUT_SECONDS = 10


class DatabaseUnreadable(Exception):
    """A service's database cannot be reached or read; the message names it (without its password)."""

    def __init__(self, service: str, url: str, reason: str):
        super().__init__(f"cannot read the {service} database at {shown_url(url)}: {reason}")
        self.service = service


@dataclass(frozen=True)
class PlatformSnapshot:
    """The three databases, each read in one consistent snapshot, in the order inventory, payments, bookings."""

    inventory: InventorySnapshot
    payments: PaymentsSnapshot
    bookings: BookingsSnapshot


def read_platform(urls: Mapping[str, str]) -> PlatformSnapshot:
    """Read inventory, payments and bookings, in that order, from ``{service: database URL}``."""
    with read_only_snapshot("inventory", urls["inventory"]) as connection:
        inventory = read_inventory(connection)
    with read_only_snapshot("payments", urls["payments"]) as connection:
        payments = read_payments(connection)
    with read_only_snapshot("bookings", urls["bookings"]) as connection:
        bookings = read_bookings(connection)
    return PlatformSnapshot(inventory, payments, bookings)


@contextmanager
def read_only_snapshot(service: str, url: str) -> Iterator[Connection]:
    """A read-only connection in one REPEATABLE READ transaction, rolled back when the block ends."""
    try:
        engine = create_engine(
            psycopg_url(url),
            poolclass=NullPool,
            connect_args={
                "application_name": APPLICATION_NAME,
                "options": SESSION_OPTIONS,
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            },
        )
    except ArgumentError as error:
        raise DatabaseUnreadable(service, url, f"not a database URL ({error})") from error
    try:
        with engine.connect() as connection:
            snapshot = connection.execution_options(isolation_level="REPEATABLE READ")
            # Begun here, before any statement, so the ledger audit's session joins this transaction instead of
            # opening and ending its own; closing the connection rolls it back.
            snapshot.begin()
            yield snapshot
    except DBAPIError as error:
        raise DatabaseUnreadable(service, url, _first_line(error.orig or error)) from error
    finally:
        engine.dispose()


def psycopg_url(url: str) -> str:
    """``url`` pinned to the psycopg 3 driver, as the services pin theirs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def shown_url(url: str) -> str:
    """``url`` fit for a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unparsable URL"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# Inventory ------------------------------------------------------------------------------------------------------


def read_inventory(connection: Connection) -> InventorySnapshot:
    """Every seat held or sold, every room night, every hold with its items."""
    read_at = _now(connection)
    seats = connection.execute(
        text("SELECT schedule_id, seat_no, status, hold_id FROM seats WHERE status <> 'free' ORDER BY 1, position")
    )
    nights = connection.execute(text("SELECT room_type_id, night, total, held, sold FROM room_nights ORDER BY 1, 2"))
    # Only departures on sale: inventory stops counting seats taken from one that left or was cancelled.
    counts = connection.execute(
        text(
            """
            SELECT s.id, s.available_seats, count(*) FILTER (WHERE seats.status = 'free')
            FROM schedules s JOIN seats ON seats.schedule_id = s.id
            WHERE s.status = 'active' AND s.departs_at > now()
            GROUP BY s.id ORDER BY s.id
            """
        )
    )
    holds = connection.execute(
        text(
            """
            SELECT h.booking_id, h.status, h.expires_at,
                   coalesce(jsonb_agg(i.item ORDER BY i.position) FILTER (WHERE i.booking_id IS NOT NULL), '[]')
            FROM holds h LEFT JOIN hold_items i ON i.booking_id = h.booking_id
            GROUP BY h.booking_id ORDER BY h.created_at, h.booking_id
            """
        )
    )
    return InventorySnapshot(
        read_at=read_at,
        taken_seats=[
            SeatRow((schedule_id, seat_no), status, hold_id) for schedule_id, seat_no, status, hold_id in seats
        ],
        room_nights={
            (room_type_id, night): RoomNight((room_type_id, night), total, held, sold)
            for room_type_id, night, total, held, sold in nights
        },
        holds={
            booking_id: Hold(booking_id, status, expires_at, Items.from_json(items))
            for booking_id, status, expires_at, items in holds
        },
        seat_counts=[SeatCount(schedule_id, counted, free) for schedule_id, counted, free in counts],
    )


# Payments -------------------------------------------------------------------------------------------------------


class _WithinSnapshot(UnitOfWork):
    """Payments' own ledger audit, run inside the audit's snapshot of payments, which it must neither end nor commit.

    ``rollback_only`` joins the session to the connection's open transaction; ``rollback`` is a no-op because the
    audit reads on in the same snapshot after the ledger audit, and a read-only snapshot has nothing to undo.
    """

    def __init__(self, connection: Connection):
        super().__init__(sessionmaker(bind=connection, join_transaction_mode="rollback_only"))

    def rollback(self) -> None:
        return


def read_payments(connection: Connection) -> PaymentsSnapshot:
    """Every booking's debits and refunds, each booking's totals, every wallet, and payments' own ledger audit."""
    # First, because the ledger audit sets the transaction's isolation level, which must precede any query.
    ledger = audit_ledger(_WithinSnapshot(connection))
    return PaymentsSnapshot(
        transactions=_booking_transactions(connection),
        booking_payments={
            booking_id: BookingPayment(booking_id, debited, refunded)
            for booking_id, debited, refunded in connection.execute(
                text("SELECT booking_id, debited, refunded FROM booking_payments ORDER BY booking_id")
            )
        },
        wallets=_wallets(connection),
        ledger_findings=[LedgerFinding(v.check, v.subject, v.detail) for v in ledger.violations],
    )


def _booking_transactions(connection: Connection) -> list[BookingTransaction]:
    rows = connection.execute(
        text(
            """
            SELECT t.id, t.kind, t.booking_id, t.amount,
                   (SELECT a.customer_id FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
                    WHERE e.transaction_id = t.id AND a.kind = 'wallet' ORDER BY e.id LIMIT 1)
            FROM ledger_transactions t
            WHERE t.booking_id IS NOT NULL
            ORDER BY t.created_at, t.id
            """
        )
    )
    return [BookingTransaction(*row) for row in rows]


def _wallets(connection: Connection) -> list[Wallet]:
    rows = connection.execute(
        text(
            """
            SELECT a.customer_id, a.currency, a.balance,
                   coalesce(sum(t.amount) FILTER (WHERE t.kind = 'top_up'), 0),
                   coalesce(sum(t.amount) FILTER (WHERE t.kind = 'debit'), 0),
                   coalesce(sum(t.amount) FILTER (WHERE t.kind = 'refund'), 0),
                   coalesce(sum(t.amount) FILTER (WHERE t.kind = 'credit'), 0)
            FROM accounts a
            LEFT JOIN ledger_entries e ON e.account_id = a.id
            LEFT JOIN ledger_transactions t ON t.id = e.transaction_id
            WHERE a.kind = 'wallet'
            GROUP BY a.id
            ORDER BY a.customer_id, a.currency
            """
        )
    )
    return [Wallet(*row) for row in rows]


# Bookings -------------------------------------------------------------------------------------------------------


def read_bookings(connection: Connection) -> BookingsSnapshot:
    """Every booking, soft-deleted ones included: their seats and money are as real as anyone's."""
    read_at = _now(connection)
    rows = connection.execute(
        text(
            """
            SELECT id, customer_id, status, items, total_minor, refund_minor, confirmed_at, deadline_at, updated_at
            FROM bookings ORDER BY created_at, id
            """
        )
    )
    bookings = {}
    for row in rows:
        booking = Booking(
            id=row.id,
            customer_id=row.customer_id,
            status=Status(row.status),
            items=Items.from_json(row.items),
            total_minor=row.total_minor,
            refund_minor=row.refund_minor,
            confirmed_at=row.confirmed_at,
            deadline_at=row.deadline_at,
            updated_at=row.updated_at,
        )
        bookings[booking.id] = booking
    return BookingsSnapshot(read_at=read_at, bookings=bookings)


def _now(connection: Connection) -> datetime:
    now = connection.execute(text("SELECT now()")).scalar_one()
    assert isinstance(now, datetime)
    return now
