"""Driving bookings' saga as its worker does: replies from inventory and payments delivered through the inbox.

Tests play inventory and payments themselves: they read the commands bookings queued in its outbox and answer
with the replies those services would send, in any order, as often as they like.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy import Engine, RowMapping

from bookings.adapters import booking_records
from bookings.adapters.tables import plumbing
from bookings.bootstrap import saga_handlers
from bookings.domain.refund_policy import RefundPolicy
from bookings.service_layer import booking_requests, timers
from bookings.service_layer.booking_requests import Viewer
from bookings.service_layer.saga import SagaRules
from tripline.contracts.inventory import (
    HeldBusSeats,
    HeldHotelRooms,
    HoldConfirmed,
    HoldConfirmRejected,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    HoldReserved,
    NightRate,
)
from tripline.contracts.payments import DebitDeclined, DebitSucceeded, RefundSucceeded, debit_key
from tripline.contracts.values import Money
from tripline.db import make_engine, make_read_session_factory, make_session_factory
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.testing import sql

CURRENCY = "INR"
FARE = 125_000
RATE = 450_000
Snapshot = tuple[dict[str, Any], list[tuple[str | None, str]], list[tuple[str, dict[str, Any]]], list[str]]
RULES = SagaRules(hold_ttl=timedelta(minutes=10), step_timeout=timedelta(minutes=1), refund_policy=RefundPolicy())


def inr(amount_minor: int) -> Money:
    return Money(amount_minor=amount_minor, currency=CURRENCY)


def bus_item(seats: tuple[str, ...] = ("1A",), schedule_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A bus item as the API stores it."""
    return {
        "type": "bus_seats",
        "schedule_id": str(schedule_id or uuid.uuid4()),
        "seats": list(seats),
        "passengers": [{"name": f"Traveller {seat}", "age": 30} for seat in seats],
    }


def hotel_item(check_in: date | None = None, nights: int = 2, rooms: int = 1) -> dict[str, Any]:
    """A hotel item as the API stores it."""
    check_in = check_in or (datetime.now(UTC) + timedelta(days=30)).date()
    return {
        "type": "hotel_rooms",
        "room_type_id": str(uuid.uuid4()),
        "check_in": check_in.isoformat(),
        "check_out": (check_in + timedelta(days=nights)).isoformat(),
        "rooms": rooms,
        "guests": rooms,
    }


class SagaDesk:
    """Bookings' request use cases and reply handlers on a real database."""

    def __init__(self, database_url: str, rules: SagaRules = RULES):
        self.database_url = database_url
        self.rules = rules
        self.engine: Engine = make_engine(database_url, application_name="bookings-tests", pool_size=20)
        self.unit_of_work = partial(OutboxUnitOfWork, make_session_factory(self.engine), plumbing.outbox, "bookings")
        self.reads = make_read_session_factory(self.engine)
        inventory, payments = saga_handlers(rules)
        self.handlers = {**inventory, **payments}
        self.inventory_runner = InboxRunner("bookings-inventory-events", plumbing.inbox, self.unit_of_work)
        self.payments_runner = InboxRunner("bookings-payments-events", plumbing.inbox, self.unit_of_work)

    def close(self) -> None:
        self.engine.dispose()

    def with_rules(self, **changes: Any) -> SagaDesk:
        """Another desk on the same database, with other timings or refund policy."""
        return SagaDesk(self.database_url, replace(self.rules, **changes))

    # Requests ----------------------------------------------------------------------------------------------------

    def place(
        self, customer: str = "cust-asha", items: list[dict[str, Any]] | None = None, *, pay: bool = True
    ) -> uuid.UUID:
        """A new pending booking (paid on reservation when ``pay``); returns its id."""
        booking = booking_requests.place(
            self.unit_of_work,
            self.rules,
            booking_id=uuid.uuid4(),
            customer_id=customer,
            items=items or [bus_item()],
            pay_by="wallet" if pay else None,
        )
        return uuid.UUID(str(booking["id"]))

    def pay(self, booking_id: uuid.UUID, customer: str = "cust-asha", key: str | None = None) -> RowMapping:
        """Pay as the API does, under ``key`` (a new request each time when not given)."""
        request_key = f"{customer}:{key or uuid.uuid4()}"
        return booking_requests.pay(self.unit_of_work, self.rules, Viewer(customer, False), booking_id, request_key)

    def cancel(
        self, booking_id: uuid.UUID, customer: str = "cust-asha", reason: str = "plans changed", key: str | None = None
    ) -> RowMapping:
        """Cancel as the API does, under ``key`` (a new request each time when not given)."""
        viewer = Viewer(customer, False)
        request_key = f"{customer}:{key or uuid.uuid4()}"
        return booking_requests.cancel(self.unit_of_work, self.rules, viewer, booking_id, reason, request_key)

    def retry(self, booking_id: uuid.UUID) -> RowMapping:
        return booking_requests.retry(self.unit_of_work, self.rules, Viewer("ops", True), booking_id)

    def abandon(self, booking_id: uuid.UUID) -> RowMapping:
        return booking_requests.abandon(self.unit_of_work, self.rules, Viewer("ops", True), booking_id)

    def delete(self, booking_id: uuid.UUID) -> None:
        booking_requests.delete(self.unit_of_work, self.rules, Viewer("ops", True), booking_id)

    # Bookings in a given status ----------------------------------------------------------------------------------

    def booking_in(
        self,
        status: str,
        *,
        customer: str = "cust-asha",
        items: list[dict[str, Any]] | None = None,
        starts_at: datetime | None = None,
        expired_by: Literal["timer", "hold.expired"] = "timer",
        place: Callable[[bool], uuid.UUID] | None = None,
    ) -> uuid.UUID:
        """A booking brought to ``status`` along the saga's plainest path to it; returns its id.

        It pays on reservation unless it is to wait in ``reserved`` (or expire from there). Its trip starts at
        ``starts_at``, three days ahead unless told, so a cancellation of it is refunded in full. A cancelled or
        failed booking never got past pending: the customer cancelled it, or inventory sent ``hold.rejected``. An
        expired one was reserved and then expired by bookings' timer, which released its hold, or by inventory's
        ``hold.expired``, which leaves nothing to release. ``place`` places the pending booking some other way
        (through the API, say), told whether it pays on reservation.
        """

        def placed(pay: bool) -> uuid.UUID:
            return place(pay) if place else self.place(customer, items, pay=pay)

        def held(booking_id: uuid.UUID) -> uuid.UUID:
            self.reply(self.hold_reserved(booking_id, starts_at=starts_at))
            return booking_id

        def reach(status: str) -> uuid.UUID:
            match status:
                case "pending":
                    return placed(pay=True)
                case "reserved":
                    return held(placed(pay=False))
                case "payment_pending":
                    return held(placed(pay=True))
                case "confirming":
                    booking_id = reach("payment_pending")
                    self.debited(booking_id)
                case "confirmed":
                    booking_id = reach("confirming")
                    self.confirmed(booking_id)
                case "cancelling":
                    booking_id = reach("confirmed")
                    self.cancel(booking_id, customer)
                case "cancelled":
                    booking_id = reach("pending")
                    self.cancel(booking_id, customer)
                case "failed":
                    booking_id = reach("pending")
                    self.rejected(booking_id)
                case "expired" if expired_by == "timer":
                    booking_id = reach("reserved")
                    self.set_times(booking_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
                    self.expire_due()  # expires any other reservation already past its expires_at too
                case "expired":
                    booking_id = reach("reserved")
                    self.hold_expired(booking_id)
                case "completed":
                    booking_id = reach("confirmed")
                    self.set_times(booking_id, ends_at=datetime.now(UTC) - timedelta(seconds=1))
                    self.complete_due()
                case _:
                    raise ValueError(f"no booking is ever {status!r}")
            return booking_id

        booking_id = reach(status)
        assert self.status(booking_id) == status, f"meant to be {status}, is {self.status(booking_id)}"
        return booking_id

    # Replies -----------------------------------------------------------------------------------------------------

    def deliver(self, envelope: Envelope) -> Outcome:
        """One delivery of ``envelope`` through the consumer that reads its stream, duplicate or not."""
        payload = Contract.lookup(envelope.type, envelope.version).model_validate(envelope.payload)
        runner = self.payments_runner if envelope.source == "payments" else self.inventory_runner
        return runner.handle(envelope, payload, self.handlers[type(payload)])

    def reply(self, payload: Contract) -> Envelope:
        """Deliver a new reply from the service that would send it; returns its envelope (to deliver it again)."""
        source = "payments" if payload.SUBJECT.startswith("payments.") else "inventory"
        envelope = Envelope.wrap(payload, source=source, correlation_id=str(payload.booking_id))  # type: ignore[attr-defined]
        self.deliver(envelope)
        return envelope

    def reserved(
        self, booking_id: uuid.UUID, expires_in: timedelta = timedelta(minutes=10), **when: datetime
    ) -> Envelope:
        """Inventory's ``hold.reserved`` for every item of the booking, at the test fares and rates."""
        return self.reply(self.hold_reserved(booking_id, expires_in, **when))

    def hold_reserved(
        self,
        booking_id: uuid.UUID,
        expires_in: timedelta = timedelta(minutes=10),
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> HoldReserved:
        """The ``hold.reserved`` inventory would send; ``starts_at`` and ``ends_at`` apply to every item."""
        items = [_held(item, starts_at, ends_at) for item in self.booking(booking_id)["items"]]
        total = inr(sum(item.price.amount_minor for item in items))
        return HoldReserved(booking_id=booking_id, items=items, total=total, expires_at=datetime.now(UTC) + expires_in)

    def rejected(self, booking_id: uuid.UUID, reason: str = "seats_unavailable") -> Envelope:
        return self.reply(HoldRejected(booking_id=booking_id, reason=reason, detail="Seat 1A is taken.", item_index=0))

    def debited(self, booking_id: uuid.UUID, transaction_id: uuid.UUID | None = None) -> Envelope:
        """``debit.succeeded`` for the booking's current attempt and total."""
        booking = self.booking(booking_id)
        return self.reply(
            DebitSucceeded(
                booking_id=booking_id,
                customer_id=booking["customer_id"],
                amount=inr(booking["total_minor"]),
                transaction_id=transaction_id or uuid.uuid4(),
                idempotency_key=self.last_debit_key(booking_id),
            )
        )

    def declined(self, booking_id: uuid.UUID) -> Envelope:
        booking = self.booking(booking_id)
        return self.reply(
            DebitDeclined(
                booking_id=booking_id,
                customer_id=booking["customer_id"],
                amount=inr(booking["total_minor"]),
                reason="insufficient_funds",
                detail="The wallet holds too little.",
                idempotency_key=self.last_debit_key(booking_id),
            )
        )

    def confirmed(self, booking_id: uuid.UUID) -> Envelope:
        return self.reply(HoldConfirmed(booking_id=booking_id))

    def confirm_rejected(self, booking_id: uuid.UUID) -> Envelope:
        return self.reply(
            HoldConfirmRejected(booking_id=booking_id, reason="hold_lapsed", detail="The hold lapsed past its grace.")
        )

    def released(self, booking_id: uuid.UUID, reason: str = "cancelled") -> Envelope:
        return self.reply(HoldReleased(booking_id=booking_id, reason=reason, was_held=True))

    def hold_expired(self, booking_id: uuid.UUID) -> Envelope:
        return self.reply(HoldExpired(booking_id=booking_id, expired_at=datetime.now(UTC)))

    def refunded(self, booking_id: uuid.UUID, amount_minor: int, reason: str = "cancelled") -> Envelope:
        """``refund.succeeded`` giving back ``amount_minor`` (the booking's refunded total becomes that much)."""
        booking = self.booking(booking_id)
        return self.reply(
            RefundSucceeded(
                booking_id=booking_id,
                amount=inr(amount_minor),
                transaction_id=uuid.uuid4() if amount_minor else None,
                refunded_total=inr(amount_minor),
                debited_total=inr(booking["total_minor"]),
                reason=reason,
                idempotency_key=f"booking:{booking_id}:refund:{reason}",
            )
        )

    # Timers ------------------------------------------------------------------------------------------------------

    def expire_due(self) -> int:
        return timers.expire_unpaid_bookings(self.unit_of_work, self.rules)

    def complete_due(self) -> int:
        return timers.complete_finished_bookings(self.unit_of_work, self.rules)

    def count_stuck(self) -> int:
        return timers.measure_stuck_bookings(self.unit_of_work)

    # Reading -----------------------------------------------------------------------------------------------------

    def booking(self, booking_id: uuid.UUID) -> RowMapping:
        with self.unit_of_work() as uow:
            booking = booking_records.find(uow.session, booking_id)
        assert booking is not None
        return booking

    def status(self, booking_id: uuid.UUID) -> str:
        return str(self.booking(booking_id)["status"])

    def history(self, booking_id: uuid.UUID) -> list[tuple[str | None, str]]:
        """(from, to) of every transition, oldest first."""
        rows = sql(
            self.database_url,
            "SELECT from_status, to_status FROM booking_transitions WHERE booking_id = %s ORDER BY id",
            booking_id,
        )
        return [(row[0], row[1]) for row in rows]

    def commands(self, booking_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        """Commands bookings queued for the booking, oldest first: (subject, payload)."""
        rows = sql(
            self.database_url,
            "SELECT subject, envelope FROM outbox WHERE envelope->>'correlation_id' = %s AND subject LIKE '%%.cmd.%%'"
            " ORDER BY created_at, id",
            str(booking_id),
        )
        return [(row[0], row[1]["payload"]) for row in rows]

    def command_subjects(self, booking_id: uuid.UUID) -> list[str]:
        return [subject for subject, _ in self.commands(booking_id)]

    def events(self, booking_id: uuid.UUID) -> list[str]:
        """Subjects of the ``bookings.evt.booking.*`` events queued for the booking, oldest first."""
        rows = sql(
            self.database_url,
            "SELECT subject FROM outbox WHERE envelope->>'correlation_id' = %s AND subject LIKE 'bookings.evt.%%'"
            " ORDER BY created_at, id",
            str(booking_id),
        )
        return [row[0] for row in rows]

    def snapshot(self, booking_id: uuid.UUID, leave_out: tuple[str, ...] = ()) -> Snapshot:
        """All the saga keeps of a booking: its row (less the columns in ``leave_out``), history, commands, events."""
        row = {name: value for name, value in self.booking(booking_id).items() if name not in leave_out}
        return row, self.history(booking_id), self.commands(booking_id), self.events(booking_id)

    def last_debit_key(self, booking_id: uuid.UUID) -> str:
        attempts = self.booking(booking_id)["payment_attempts"]
        assert attempts, "no debit was asked for"
        return debit_key(booking_id, attempts)

    def set_times(self, booking_id: uuid.UUID, **columns: datetime) -> None:
        """Move a booking's deadlines (``expires_at``, ``ends_at``, ``deadline_at``...) to make a timer due."""
        assignments = ", ".join(f"{name} = %s" for name in columns)
        sql(self.database_url, f"UPDATE bookings SET {assignments} WHERE id = %s", *columns.values(), booking_id)


def _held(item: dict[str, Any], starts_at: datetime | None, ends_at: datetime | None) -> HeldBusSeats | HeldHotelRooms:
    start = starts_at or datetime.now(UTC) + timedelta(days=3)
    end = ends_at or start + timedelta(hours=8)
    if item["type"] == "bus_seats":
        return HeldBusSeats(
            schedule_id=item["schedule_id"],
            seats=item["seats"],
            fare=inr(FARE),
            price=inr(FARE * len(item["seats"])),
            starts_at=start,
            ends_at=end,
        )
    check_in, check_out = date.fromisoformat(item["check_in"]), date.fromisoformat(item["check_out"])
    nights = [check_in + timedelta(days=n) for n in range((check_out - check_in).days)]
    return HeldHotelRooms(
        room_type_id=item["room_type_id"],
        hotel_id=uuid.uuid4(),
        check_in=check_in,
        check_out=check_out,
        rooms=item["rooms"],
        nights=[NightRate(night=night, rate=inr(RATE)) for night in nights],
        price=inr(RATE * len(nights) * item["rooms"]),
        starts_at=start,
        ends_at=end,
    )
