"""What the audit reads from each service's database, as plain values.

Nothing here knows a service's code: these are the rows of its tables, in the words the tables use. A booking's
items (in bookings) and a hold's items (in inventory) share the keys the audit needs: ``type``, ``schedule_id``
and ``seats`` for bus seats; ``room_type_id``, ``check_in``, ``check_out`` and ``rooms`` for hotel rooms.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bookings.domain.lifecycle import Status

# A seat on a schedule, and a night of a room type: the units inventory sells.
Seat = tuple[uuid.UUID, str]
Night = tuple[uuid.UUID, date]

SOLD = frozenset({Status.CONFIRMED, Status.COMPLETED})


@dataclass(frozen=True)
class Stay:
    """``rooms`` rooms of one room type for every night in ``[check_in, check_out)``."""

    room_type_id: uuid.UUID
    check_in: date
    check_out: date
    rooms: int

    def nights(self) -> list[Night]:
        count = (self.check_out - self.check_in).days
        return [(self.room_type_id, self.check_in + timedelta(days=n)) for n in range(count)]


@dataclass(frozen=True)
class Items:
    """The seats and stays of a booking or of its hold."""

    seats: frozenset[Seat]
    stays: tuple[Stay, ...]

    @classmethod
    def from_json(cls, items: Iterable[Mapping[str, Any]]) -> Items:
        seats: set[Seat] = set()
        stays: list[Stay] = []
        for item in items:
            if item["type"] == "bus_seats":
                schedule_id = uuid.UUID(str(item["schedule_id"]))
                seats.update((schedule_id, str(label)) for label in item["seats"])
            else:
                stays.append(
                    Stay(
                        room_type_id=uuid.UUID(str(item["room_type_id"])),
                        check_in=date.fromisoformat(str(item["check_in"])),
                        check_out=date.fromisoformat(str(item["check_out"])),
                        rooms=int(item["rooms"]),
                    )
                )
        return cls(frozenset(seats), tuple(stays))

    def rooms_by_night(self) -> dict[Night, int]:
        rooms: dict[Night, int] = {}
        for stay in self.stays:
            for night in stay.nights():
                rooms[night] = rooms.get(night, 0) + stay.rooms
        return rooms

    def describe(self) -> str:
        """``seats 1A, 1B of schedule …; 2 room(s) of room type … for 2026-12-01..2026-12-03``."""
        parts = [
            f"seat {label} of schedule {schedule_id}" for schedule_id, label in sorted(self.seats, key=_seat_order)
        ]
        parts += [
            f"{stay.rooms} room(s) of room type {stay.room_type_id} for {stay.check_in}..{stay.check_out}"
            for stay in self.stays
        ]
        return "; ".join(parts) or "nothing"


def _seat_order(seat: Seat) -> tuple[str, str]:
    return str(seat[0]), seat[1]


# Bookings ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """A booking as bookings records it."""

    id: uuid.UUID
    customer_id: str
    status: Status
    items: Items
    # None until inventory has priced the booking.
    total_minor: int | None
    refund_minor: int | None
    # Set once inventory sold the booking's items: a cancelled booking with it was cancelled after payment.
    confirmed_at: datetime | None
    deadline_at: datetime | None
    updated_at: datetime

    @property
    def total(self) -> int:
        return self.total_minor or 0

    @property
    def was_confirmed(self) -> bool:
        return self.confirmed_at is not None

    def owes(self) -> int:
        """What the customer owes for it once it is settled: sold, the total; cancelled after payment, what is kept."""
        if self.status in SOLD:
            return self.total
        if self.status is Status.CANCELLED and self.was_confirmed:
            return self.total - (self.refund_minor or 0)
        return 0


@dataclass(frozen=True)
class BookingsSnapshot:
    """Every booking, read at ``read_at`` on bookings' clock."""

    read_at: datetime
    bookings: dict[uuid.UUID, Booking]


# Inventory -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """A booking's hold; only ``held`` and ``confirmed`` holds own seats and rooms."""

    booking_id: uuid.UUID
    status: str
    expires_at: datetime | None
    items: Items


@dataclass(frozen=True)
class SeatRow:
    """A seat that is held or sold, and the hold (named by its booking) that has it."""

    seat: Seat
    status: str
    hold_id: uuid.UUID


@dataclass(frozen=True)
class RoomNight:
    """One night of one room type: its allotment, and how many rooms are held and sold."""

    night: Night
    total: int
    held: int
    sold: int


@dataclass(frozen=True)
class SeatCount:
    """A departure on sale: the free seats its counter says (what search and the seat map show), and its free rows."""

    schedule_id: uuid.UUID
    counted: int
    free: int


@dataclass(frozen=True)
class InventorySnapshot:
    """Every seat taken, every room night and every hold, read at ``read_at`` on inventory's clock."""

    read_at: datetime
    taken_seats: list[SeatRow]
    room_nights: dict[Night, RoomNight]
    holds: dict[uuid.UUID, Hold]
    seat_counts: list[SeatCount]


# Payments ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingTransaction:
    """A debit or refund in payments' ledger, with the customer whose wallet it moved."""

    id: uuid.UUID
    kind: str
    booking_id: uuid.UUID
    amount: int
    customer_id: str | None


@dataclass(frozen=True)
class BookingPayment:
    """Payments' running totals for one booking."""

    booking_id: uuid.UUID
    debited: int
    refunded: int


@dataclass(frozen=True)
class Wallet:
    """A customer's wallet: its balance, and what each kind of ledger transaction moved through it."""

    customer_id: str
    currency: str
    balance: int
    top_ups: int
    debits: int
    refunds: int
    credits: int

    def expected_balance(self) -> int:
        return self.top_ups - self.debits + self.refunds + self.credits


@dataclass(frozen=True)
class LedgerFinding:
    """One violation reported by payments' own ledger audit."""

    check: str
    subject: str
    detail: str


@dataclass(frozen=True)
class PaymentsSnapshot:
    """Every booking's ledger transactions and totals, every wallet, and payments' own audit of the same snapshot."""

    transactions: list[BookingTransaction]
    booking_payments: dict[uuid.UUID, BookingPayment]
    wallets: list[Wallet]
    ledger_findings: list[LedgerFinding]
