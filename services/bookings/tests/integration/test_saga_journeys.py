"""Whole journeys of a booking through the saga on a real PostgreSQL, with the tests answering for inventory and
payments: each step sends the right command, records one history row and announces one status event, and the
booking keeps the prices, times and failures its replies carried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookings.service_layer.saga import BookingExpired
from tripline.contracts.inventory import HoldReserved
from tripline.contracts.payments import debit_key, refund_key
from tripline.testing import outbox_payloads, sql

from ..saga_desk import CURRENCY, FARE, RATE, SagaDesk, bus_item, hotel_item, inr

STARTS_AT = datetime(2031, 3, 4, 6, 30, tzinfo=UTC)
ENDS_AT = STARTS_AT + timedelta(hours=9)


def money(amount_minor: int) -> dict[str, Any]:
    """Money as the booking row and the commands hold it (JSON)."""
    return {"amount_minor": amount_minor, "currency": CURRENCY}


def status_events(*statuses: str) -> list[str]:
    return [f"bookings.evt.booking.{status}" for status in statuses]


def journey(*statuses: str) -> list[tuple[str | None, str]]:
    """History rows of a booking that went through ``statuses`` in order."""
    return list(zip((None, *statuses[:-1]), statuses, strict=True))


def command(desk: SagaDesk, booking_id: uuid.UUID, subject: str) -> dict[str, Any]:
    """The one command queued for the booking on ``subject``."""
    [payload] = [payload for queued, payload in desk.commands(booking_id) if queued == subject]
    return payload


def history_causes(desk: SagaDesk, booking_id: uuid.UUID) -> list[tuple[str, uuid.UUID | None]]:
    """(to, message id) of every history row."""
    rows = sql(
        desk.database_url,
        "SELECT to_status, message_id FROM booking_transitions WHERE booking_id = %s ORDER BY id",
        booking_id,
    )
    return [(row[0], row[1]) for row in rows]


# Paid and confirmed ------------------------------------------------------------------------------------------


def test_a_booking_paid_on_reservation_is_reserved_debited_and_confirmed(desk: SagaDesk) -> None:
    item = bus_item(("1A", "1B"))
    booking_id = desk.place(items=[item])
    assert desk.status(booking_id) == "pending"
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]

    reserved = desk.reserved(booking_id, starts_at=STARTS_AT, ends_at=ENDS_AT)
    assert desk.status(booking_id) == "payment_pending"
    transaction_id = uuid.uuid4()
    desk.debited(booking_id, transaction_id)
    assert desk.status(booking_id) == "confirming"
    desk.confirmed(booking_id)

    booking = desk.booking(booking_id)
    assert booking["status"] == "confirmed"
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "payments.cmd.debit", "inventory.cmd.confirm"]
    reserve = command(desk, booking_id, "inventory.cmd.reserve")
    assert reserve["items"] == [{"type": "bus_seats", "schedule_id": item["schedule_id"], "seats": ["1A", "1B"]}]
    assert reserve["hold_seconds"] == int(desk.rules.hold_ttl.total_seconds())
    assert command(desk, booking_id, "payments.cmd.debit") == {
        "booking_id": str(booking_id),
        "customer_id": "cust-asha",
        "amount": money(2 * FARE),
        "idempotency_key": debit_key(booking_id),
    }
    assert command(desk, booking_id, "inventory.cmd.confirm") == {"booking_id": str(booking_id)}
    statuses = ("pending", "reserved", "payment_pending", "confirming", "confirmed")
    assert desk.history(booking_id) == journey(*statuses)
    assert desk.events(booking_id) == status_events(*statuses)

    assert booking["total_minor"] == 2 * FARE
    assert booking["currency"] == CURRENCY
    assert booking["items"] == [item | {"price": money(2 * FARE)}]
    assert (booking["starts_at"], booking["ends_at"]) == (STARTS_AT, ENDS_AT)
    assert booking["expires_at"] == datetime.fromisoformat(reserved.payload["expires_at"])
    assert booking["debit_transaction_id"] == transaction_id
    assert booking["payment_attempts"] == 1
    for stamp in ("created_at", "reserved_at", "payment_requested_at", "confirmed_at"):
        assert booking[stamp] is not None, stamp
    for unset in ("completed_at", "cancelled_at", "expired_at", "failed_at", "deleted_at", "deadline_at"):
        assert booking[unset] is None, unset
    assert booking["failure_code"] is None
    assert booking["refund_minor"] is None


def test_each_status_event_says_where_the_booking_came_from_and_what_it_costs(
    desk: SagaDesk, database_url: str
) -> None:
    booking_id = desk.booking_in("confirmed")

    announced = [
        (event["booking_id"], event["from_status"], event["status"], event["total"])
        for status in ("pending", "reserved", "payment_pending", "confirming", "confirmed")
        for event in outbox_payloads(database_url, f"bookings.evt.booking.{status}")
    ]
    assert announced == [
        (str(booking_id), None, "pending", None),
        (str(booking_id), "pending", "reserved", money(FARE)),
        (str(booking_id), "reserved", "payment_pending", money(FARE)),
        (str(booking_id), "payment_pending", "confirming", money(FARE)),
        (str(booking_id), "confirming", "confirmed", money(FARE)),
    ]


def test_history_names_the_reply_behind_each_change(desk: SagaDesk) -> None:
    booking_id = desk.place()
    reserved = desk.reserved(booking_id)
    debited = desk.debited(booking_id)
    confirmed = desk.confirmed(booking_id)

    assert history_causes(desk, booking_id) == [
        ("pending", None),
        ("reserved", reserved.id),
        ("payment_pending", reserved.id),
        ("confirming", debited.id),
        ("confirmed", confirmed.id),
    ]


def test_a_booking_paid_later_waits_reserved_then_pays_and_confirms(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("reserved")
    reserved = desk.booking(booking_id)
    assert reserved["deadline_at"] is None  # waiting for the customer is not waiting for a service
    assert reserved["expires_at"] is not None
    assert reserved["payment_requested_at"] is None
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]

    paying = desk.pay(booking_id)

    assert paying["status"] == "payment_pending"
    assert paying["payment_method"] == "wallet"
    assert command(desk, booking_id, "payments.cmd.debit")["idempotency_key"] == debit_key(booking_id)
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    assert desk.status(booking_id) == "confirmed"
    statuses = ("pending", "reserved", "payment_pending", "confirming", "confirmed")
    assert desk.history(booking_id) == journey(*statuses)
    assert desk.events(booking_id) == status_events(*statuses)
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "payments.cmd.debit", "inventory.cmd.confirm"]


def test_a_declined_payment_returns_to_reserved_and_the_next_try_pays_under_a_new_key(desk: SagaDesk) -> None:
    booking_id = desk.place()
    desk.reserved(booking_id)
    first_reserved_at = desk.booking(booking_id)["reserved_at"]

    desk.declined(booking_id)

    declined = desk.booking(booking_id)
    assert declined["status"] == "reserved"
    assert declined["failure_code"] == "insufficient_funds"
    assert declined["failure_message"] == "The wallet holds too little."
    assert declined["deadline_at"] is None
    assert declined["reserved_at"] == first_reserved_at  # the first reservation's time stays

    paying = desk.pay(booking_id)

    assert paying["status"] == "payment_pending"
    assert (paying["failure_code"], paying["failure_message"]) == (None, None)
    debits = [payload for subject, payload in desk.commands(booking_id) if subject == "payments.cmd.debit"]
    assert [debit["idempotency_key"] for debit in debits] == [debit_key(booking_id), f"booking:{booking_id}:debit:2"]
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    confirmed = desk.booking(booking_id)
    assert confirmed["status"] == "confirmed"
    assert confirmed["failure_code"] is None
    assert confirmed["payment_attempts"] == 2
    assert desk.history(booking_id) == journey(
        "pending", "reserved", "payment_pending", "reserved", "payment_pending", "confirming", "confirmed"
    )


# Over before it was paid -------------------------------------------------------------------------------------


def test_an_unpaid_booking_expires_once_its_hold_runs_out_and_its_items_are_released(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("reserved")
    desk.set_times(booking_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    assert desk.expire_due() == 1

    booking = desk.booking(booking_id)
    assert booking["status"] == "expired"
    assert booking["expired_at"] is not None
    assert booking["deadline_at"] is None
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "inventory.cmd.release"]
    assert command(desk, booking_id, "inventory.cmd.release") == {"booking_id": str(booking_id), "reason": "expired"}
    assert desk.history(booking_id) == journey("pending", "reserved", "expired")
    assert desk.events(booking_id) == status_events("pending", "reserved", "expired")


@pytest.mark.parametrize("reserved_first", [False, True], ids=["pending", "reserved"])
def test_cancelling_before_payment_cancels_at_once_and_releases_the_items(desk: SagaDesk, reserved_first: bool) -> None:
    booking_id = desk.booking_in("reserved") if reserved_first else desk.place()
    before = desk.status(booking_id)

    cancelled = desk.cancel(booking_id, reason="plans changed")

    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert cancelled["deadline_at"] is None
    assert "plans changed" in cancelled["cancel_reason"]
    assert cancelled["refund_minor"] is None
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "inventory.cmd.release"]
    assert command(desk, booking_id, "inventory.cmd.release") == {"booking_id": str(booking_id), "reason": "cancelled"}
    assert desk.history(booking_id)[-1] == (before, "cancelled")
    assert desk.events(booking_id)[-1] == "bookings.evt.booking.cancelled"


@pytest.mark.parametrize(
    ("reason", "failure_code"),
    [
        ("seats_unavailable", "seats_unavailable"),
        ("rooms_unavailable", "rooms_unavailable"),
        ("not_sellable", "not_sellable"),
        ("hold_released", "not_sellable"),
    ],
)
def test_a_rejected_hold_fails_the_booking_with_inventorys_reason(
    desk: SagaDesk, reason: str, failure_code: str
) -> None:
    booking_id = desk.place()

    desk.rejected(booking_id, reason)

    booking = desk.booking(booking_id)
    assert booking["status"] == "failed"
    assert booking["failure_code"] == failure_code
    assert booking["failure_message"] == "Seat 1A is taken."
    assert booking["failed_at"] is not None
    assert booking["deadline_at"] is None
    assert booking["total_minor"] is None
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]
    assert desk.history(booking_id) == journey("pending", "failed")
    assert desk.events(booking_id) == status_events("pending", "failed")


def test_a_paid_booking_whose_hold_cannot_be_sold_is_refunded_in_full_and_fails(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("confirming")

    desk.confirm_rejected(booking_id)

    booking = desk.booking(booking_id)
    assert booking["status"] == "failed"
    assert booking["failure_code"] == "hold_lapsed"
    assert booking["failed_at"] is not None
    assert booking["confirmed_at"] is None
    assert booking["refund_minor"] == FARE
    assert desk.command_subjects(booking_id) == [
        "inventory.cmd.reserve",
        "payments.cmd.debit",
        "inventory.cmd.confirm",
        "payments.cmd.refund",
    ]
    assert command(desk, booking_id, "payments.cmd.refund") == {
        "booking_id": str(booking_id),
        "amount": None,  # everything that was debited
        "reason": "confirm_rejected",
        "idempotency_key": refund_key(booking_id, "confirm_rejected"),
    }
    assert desk.history(booking_id)[-1] == ("confirming", "failed")
    assert desk.events(booking_id)[-1] == "bookings.evt.booking.failed"


def test_paying_after_expires_at_is_refused_before_the_timer_ran_and_writes_nothing(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("reserved")
    desk.set_times(booking_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    before = desk.booking(booking_id)

    with pytest.raises(BookingExpired):
        desk.pay(booking_id)

    assert desk.booking(booking_id) == before
    assert desk.history(booking_id) == journey("pending", "reserved")
    assert desk.events(booking_id) == status_events("pending", "reserved")
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]


# What a booking may hold -------------------------------------------------------------------------------------


def test_hotel_rooms_are_held_and_priced_for_every_night_of_every_room(desk: SagaDesk) -> None:
    item = hotel_item(nights=3, rooms=2)
    booking_id = desk.place(items=[item])

    reserve = command(desk, booking_id, "inventory.cmd.reserve")
    assert reserve["items"] == [
        {
            "type": "hotel_rooms",
            "room_type_id": item["room_type_id"],
            "check_in": item["check_in"],
            "check_out": item["check_out"],
            "rooms": 2,
            "guests": 2,
        }
    ]
    desk.reserved(booking_id, starts_at=STARTS_AT, ends_at=ENDS_AT)
    desk.debited(booking_id)
    desk.confirmed(booking_id)

    booking = desk.booking(booking_id)
    assert booking["status"] == "confirmed"
    assert booking["total_minor"] == 6 * RATE
    assert booking["items"] == [item | {"price": money(6 * RATE)}]
    assert command(desk, booking_id, "payments.cmd.debit")["amount"] == money(6 * RATE)
    assert (booking["starts_at"], booking["ends_at"]) == (STARTS_AT, ENDS_AT)


def test_a_bus_and_hotel_booking_takes_each_price_from_the_hold_and_spans_both(desk: SagaDesk) -> None:
    bus, hotel = bus_item(("4C",)), hotel_item(nights=2)
    booking_id = desk.place(items=[bus, hotel])
    assert [item["type"] for item in command(desk, booking_id, "inventory.cmd.reserve")["items"]] == [
        "bus_seats",
        "hotel_rooms",
    ]
    # Inventory's prices, deliberately unlike anything bookings could work out itself.
    quoted = desk.hold_reserved(booking_id)
    bus_starts, stay_ends = STARTS_AT, STARTS_AT + timedelta(days=3)
    held_bus = quoted.items[0].model_copy(
        update={"price": inr(99_001), "starts_at": bus_starts, "ends_at": bus_starts + timedelta(hours=9)}
    )
    held_stay = quoted.items[1].model_copy(
        update={"price": inr(700_003), "starts_at": bus_starts + timedelta(hours=10), "ends_at": stay_ends}
    )
    hold = HoldReserved(
        booking_id=booking_id, items=[held_bus, held_stay], total=inr(799_004), expires_at=quoted.expires_at
    )

    desk.reply(hold)

    booking = desk.booking(booking_id)
    assert booking["status"] == "payment_pending"
    assert booking["items"] == [bus | {"price": money(99_001)}, hotel | {"price": money(700_003)}]
    assert booking["total_minor"] == 799_004
    assert (booking["starts_at"], booking["ends_at"]) == (bus_starts, stay_ends)
    assert command(desk, booking_id, "payments.cmd.debit")["amount"] == money(799_004)
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    assert desk.status(booking_id) == "confirmed"
