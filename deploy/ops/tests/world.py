"""A small platform written straight into the three databases, consistent across them, for the audit to judge.

``World`` writes what the services would have written for a booking in each status: bookings' row, inventory's
hold with its seats and room nights, payments' debits and refunds with balanced ledger entries.
``ordinary_day.ordinary_day`` builds one booking in most statuses; a test then breaks one thing with plain SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from payments.domain import ledger

from .stored_items import CURRENCY, booking_items, held_items

SERVICES = ("inventory", "bookings", "payments")
# What an ordinary booking's last change looks like to the audit: long enough ago to be settled.
LONG_AGO = timedelta(hours=1)
HOLD_TTL = timedelta(minutes=10)

# Where each status leaves the booking's hold in inventory (None: no hold yet).
HOLD_OF_STATUS = {
    "pending": None,
    "reserved": "held",
    "payment_pending": "held",
    "confirming": "held",
    "confirmed": "confirmed",
    "completed": "confirmed",
    "cancelling": "confirmed",
    "cancelled": "released",
    "expired": "expired",
    "failed": "expired",
}
TRANSITIONAL = {"pending", "payment_pending", "confirming", "cancelling"}
WAITS_FOR_PAYMENT = {"reserved", "payment_pending", "confirming"}
CONFIRMED_ONCE = {"confirmed", "completed", "cancelling"}


@dataclass(frozen=True)
class Schedule:
    id: uuid.UUID
    fare: int
    departs_at: datetime
    arrives_at: datetime


@dataclass(frozen=True)
class RoomType:
    id: uuid.UUID
    hotel_id: uuid.UUID
    rate: int


@dataclass(frozen=True)
class Seats:
    """Seats a booking asks for on one schedule."""

    schedule: Schedule
    labels: Sequence[str]

    @property
    def price(self) -> int:
        return self.schedule.fare * len(self.labels)


@dataclass(frozen=True)
class Stay:
    """Rooms a booking asks for, every night in ``[check_in, check_out)``."""

    room_type: RoomType
    check_in: date
    check_out: date
    rooms: int = 1

    def nights(self) -> list[date]:
        return [self.check_in + timedelta(days=n) for n in range((self.check_out - self.check_in).days)]

    @property
    def price(self) -> int:
        return self.room_type.rate * self.rooms * len(self.nights())


def now() -> datetime:
    return datetime.now(UTC)


class World:
    """The three databases, written through one connection each (the services' own roles)."""

    def __init__(self, urls: dict[str, str]):
        self.urls = urls
        self._connections = {service: psycopg.connect(urls[service], autocommit=True) for service in SERVICES}
        self._operator: uuid.UUID | None = None
        self._owner: uuid.UUID | None = None

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()

    def sql(self, service: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; its rows, if it returns any."""
        cursor = self._connections[service].execute(statement, params)
        return cursor.fetchall() if cursor.description else []

    # Supply ----------------------------------------------------------------------------------------------------

    def schedule(self, labels: Sequence[str] = ("1A", "1B", "2A", "2B", "3A", "3B", "4A", "4B")) -> Schedule:
        departs_at = now() + timedelta(days=20)
        schedule = Schedule(uuid.uuid4(), 1_500, departs_at, departs_at + timedelta(hours=9))
        bus_id = uuid.uuid4()
        self.sql(
            "inventory",
            "INSERT INTO buses (id, operator_id, registration, bus_type, amenities, seat_labels)"
            " VALUES (%s, %s, %s, 'sleeper', '{ac}', %s)",
            bus_id,
            self._operator_id(),
            f"MH-{bus_id.hex[:8]}",
            list(labels),
        )
        self.sql(
            "inventory",
            "INSERT INTO schedules (id, operator_id, bus_id, origin, destination, departs_at, arrives_at, fare_minor,"
            " currency, total_seats, available_seats) VALUES (%s, %s, %s, 'Mumbai', 'Goa', %s, %s, %s, %s, %s, %s)",
            schedule.id,
            self._operator_id(),
            bus_id,
            schedule.departs_at,
            schedule.arrives_at,
            schedule.fare,
            CURRENCY,
            len(labels),
            len(labels),
        )
        for position, label in enumerate(labels):
            self.sql(
                "inventory",
                "INSERT INTO seats (schedule_id, seat_no, position) VALUES (%s, %s, %s)",
                schedule.id,
                label,
                position,
            )
        return schedule

    def room_type(self, first_night: date, nights: int = 3, rooms: int = 4) -> RoomType:
        room_type = RoomType(uuid.uuid4(), uuid.uuid4(), 4_000)
        self.sql(
            "inventory",
            "INSERT INTO hotels (id, owner_id, name, city, address, stars, amenities)"
            " VALUES (%s, %s, 'Sea View', 'Goa', 'Beach Road', 4, '{wifi}')",
            room_type.hotel_id,
            self._owner_id(),
        )
        self.sql(
            "inventory",
            "INSERT INTO room_types (id, hotel_id, name, capacity, amenities) VALUES (%s, %s, 'Deluxe', 2, '{}')",
            room_type.id,
            room_type.hotel_id,
        )
        for n in range(nights):
            self.sql(
                "inventory",
                "INSERT INTO room_nights (room_type_id, night, total, rate_minor, currency)"
                " VALUES (%s, %s, %s, %s, %s)",
                room_type.id,
                first_night + timedelta(days=n),
                rooms,
                room_type.rate,
                CURRENCY,
            )
        return room_type

    def _operator_id(self) -> uuid.UUID:
        if self._operator is None:
            self._operator = self._supplier("operators")
        return self._operator

    def _owner_id(self) -> uuid.UUID:
        if self._owner is None:
            self._owner = self._supplier("property_owners")
        return self._owner

    def _supplier(self, table: str) -> uuid.UUID:
        supplier_id = uuid.uuid4()
        self.sql(
            "inventory",
            f"INSERT INTO {table} (id, account_id, name, contact_email, approval_status, submitted_at, approved_at)"
            " VALUES (%s, %s, 'Konkan', 'ops@konkan.example', 'approved', now(), now())",
            supplier_id,
            f"{table}-{supplier_id.hex[:8]}",
        )
        return supplier_id

    # Money -----------------------------------------------------------------------------------------------------

    def top_up(self, customer: str, amount: int) -> uuid.UUID:
        return self._post("top_up", customer, amount)

    def credit(self, customer: str, amount: int) -> uuid.UUID:
        return self._post("credit", customer, amount)

    def debit(self, booking_id: uuid.UUID, customer: str, amount: int, *, record: bool = True) -> uuid.UUID:
        """Take ``amount`` from the wallet for the booking; ``record=False`` leaves booking_payments as it was."""
        transaction_id = self._post("debit", customer, amount, booking_id)
        if record:
            self.sql(
                "payments",
                "INSERT INTO booking_payments (booking_id, customer_id, currency, debited, debit_transaction_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (booking_id) DO UPDATE"
                " SET debited = booking_payments.debited + excluded.debited,"
                " debit_transaction_id = excluded.debit_transaction_id",
                booking_id,
                customer,
                CURRENCY,
                amount,
                transaction_id,
            )
        return transaction_id

    def refund(self, booking_id: uuid.UUID, customer: str, amount: int, *, record: bool = True) -> uuid.UUID:
        """Give ``amount`` back to the wallet; ``record=False`` leaves booking_payments as it was."""
        transaction_id = self._post("refund", customer, amount, booking_id)
        if record:
            self.sql(
                "payments",
                "UPDATE booking_payments SET refunded = refunded + %s WHERE booking_id = %s",
                amount,
                booking_id,
            )
        return transaction_id

    def _post(self, kind: str, customer: str, amount: int, booking_id: uuid.UUID | None = None) -> uuid.UUID:
        """One balanced ledger transaction between the customer's wallet and the platform account its kind names."""
        wallet = ledger.wallet(customer, CURRENCY)
        platform_kind = {"top_up": "top_up_source", "credit": "revenue"}.get(kind, "clearing")
        platform = ledger.platform(ledger.AccountKind(platform_kind), CURRENCY)
        into_wallet = -amount if kind == "debit" else amount
        transaction_id = uuid.uuid4()
        connection = self._connections["payments"]
        # One transaction: the ledger checks at commit that the entries balance.
        with connection.transaction():
            for account in (wallet, platform):
                connection.execute(
                    "INSERT INTO accounts (id, kind, customer_id, currency, balance) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (account.id, account.kind.value, account.customer_id, CURRENCY, 0 if account.is_wallet else None),
                )
            row = connection.execute(
                "UPDATE accounts SET balance = balance + %s WHERE id = %s RETURNING balance", (into_wallet, wallet.id)
            ).fetchone()
            assert row is not None
            connection.execute(
                "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, booking_id, amount, currency)"
                " VALUES (%s, %s, 'audit-tests', %s, %s, %s, %s)",
                (transaction_id, kind, str(uuid.uuid4()), booking_id, amount, CURRENCY),
            )
            connection.execute(
                "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount, balance_after)"
                " VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, NULL)",
                (
                    transaction_id,
                    wallet.id,
                    CURRENCY,
                    into_wallet,
                    row[0],
                    transaction_id,
                    platform.id,
                    CURRENCY,
                    -into_wallet,
                ),
            )
        return transaction_id

    # Bookings --------------------------------------------------------------------------------------------------

    def book(
        self,
        customer: str,
        status: str,
        *,
        seats: Seats | None = None,
        stay: Stay | None = None,
        refund: int | None = None,
        paid: bool | None = None,
        deadline_in: timedelta = timedelta(minutes=1),
        changed: timedelta = LONG_AGO,
    ) -> uuid.UUID:
        """A booking in ``status`` with everything the services would have written for it.

        ``refund`` makes a cancelled booking one cancelled after payment, refunded that much. ``paid`` overrides
        whether its money was taken (a payment_pending booking is not paid unless told; a sold one always is).
        ``deadline_in`` sets a transitional booking's deadline from now (negative: stuck); ``changed`` how long ago
        the booking last changed.
        """
        booking_id = uuid.uuid4()
        total = (seats.price if seats else 0) + (stay.price if stay else 0)
        confirmed = status in CONFIRMED_ONCE or (status == "cancelled" and refund is not None)
        hold = HOLD_OF_STATUS[status]
        # A live hold expires ahead; one that ended was placed, and lapsed or was released, long ago.
        expires_at = now() + HOLD_TTL if hold == "held" else now() - changed
        self._hold(booking_id, hold, expires_at, seats, stay, changed)
        takes_money = confirmed or status in {"confirming", "failed"} if paid is None else paid
        transaction_id = self.debit(booking_id, customer, total) if takes_money and total else None
        refund_minor = refund if status == "cancelled" else (total if status == "failed" else None)
        if refund_minor and transaction_id is not None:
            self.refund(booking_id, customer, refund_minor)
        at = now() - changed
        self.sql(
            "bookings",
            "INSERT INTO bookings (id, customer_id, status, items, total_minor, currency, payment_method,"
            " debit_transaction_id, refund_minor, deadline_at, created_at, reserved_at, expires_at, confirmed_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'wallet', %s, %s, %s, %s, %s, %s, %s, %s)",
            booking_id,
            customer,
            status,
            Jsonb(booking_items(seats, stay)),
            None if status == "pending" else total,
            None if status == "pending" else CURRENCY,
            transaction_id,
            refund_minor,
            now() + deadline_in if status in TRANSITIONAL else None,
            at - timedelta(minutes=1),
            None if status == "pending" else at - timedelta(minutes=1),
            expires_at if status in WAITS_FOR_PAYMENT else None,
            at if confirmed else None,
            at,
        )
        return booking_id

    def _hold(
        self,
        booking_id: uuid.UUID,
        status: str | None,
        expires_at: datetime,
        seats: Seats | None,
        stay: Stay | None,
        changed: timedelta,
    ) -> None:
        if status is None:
            return
        owning = status in {"held", "confirmed"}
        self.sql(
            "inventory",
            "INSERT INTO holds (booking_id, status, expires_at, confirmed_at, released_at) VALUES (%s, %s, %s, %s, %s)",
            booking_id,
            status,
            expires_at,
            now() - changed if status == "confirmed" else None,
            None if owning else now() - changed,
        )
        for position, item in enumerate(held_items(seats, stay)):
            self.sql(
                "inventory",
                "INSERT INTO hold_items (booking_id, position, item) VALUES (%s, %s, %s)",
                booking_id,
                position,
                Jsonb(item),
            )
        if owning:
            self._take(booking_id, "held" if status == "held" else "sold", seats, stay)

    def _take(self, booking_id: uuid.UUID, how: str, seats: Seats | None, stay: Stay | None) -> None:
        if seats is not None:
            self.sql(
                "inventory",
                "UPDATE seats SET status = %s, hold_id = %s WHERE schedule_id = %s AND seat_no = ANY(%s)",
                how,
                booking_id,
                seats.schedule.id,
                list(seats.labels),
            )
            self.sql(
                "inventory",
                "UPDATE schedules SET available_seats = available_seats - %s WHERE id = %s",
                len(seats.labels),
                seats.schedule.id,
            )
        if stay is not None:
            self.sql(
                "inventory",
                f"UPDATE room_nights SET {how} = {how} + %s WHERE room_type_id = %s AND night >= %s AND night < %s",
                stay.rooms,
                stay.room_type.id,
                stay.check_in,
                stay.check_out,
            )
