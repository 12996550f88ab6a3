"""Replies that come twice, late or out of turn, on a real PostgreSQL.

The same envelope again is a duplicate the inbox absorbs; the same answer in a new envelope (a participant's
resend) moves nothing and sends nothing twice. A reply that arrives when the booking is over compensates what it
implies (architecture.md, saga rule 2): held inventory is released, money taken is refunded, and the booking stays
where it is. Any other reply the booking does not expect changes no status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tripline.contracts.payments import DebitDeclined, DebitSucceeded, debit_key, refund_key
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import Outcome

from ..saga_desk import FARE, SagaDesk, Snapshot, inr


def snapshot(desk: SagaDesk, booking_id: uuid.UUID) -> Snapshot:
    """Everything a reply could change: the row (all but updated_at), its history, commands and events."""
    return desk.snapshot(booking_id, leave_out=("updated_at",))


def resend(desk: SagaDesk, envelope: Envelope) -> Outcome:
    """The same answer again in a new envelope, as a participant answering a repeated command sends it."""
    return desk.deliver(Envelope.wrap(envelope.open(), source=envelope.source, correlation_id=envelope.correlation_id))


def commands_after(desk: SagaDesk, booking_id: uuid.UUID, before: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    """Commands queued for the booking since ``before`` was taken."""
    return desk.commands(booking_id)[len(before[2]) :]


def release_reasons(desk: SagaDesk, booking_id: uuid.UUID) -> list[str]:
    return [payload["reason"] for subject, payload in desk.commands(booking_id) if subject == "inventory.cmd.release"]


def expired_booking(desk: SagaDesk) -> uuid.UUID:
    """A booking reserved, never paid, and expired by the timer, which released its hold."""
    return desk.booking_in("expired", expired_by="timer")


# Each reply: the status of a booking that awaits it, how to deliver it, and the status it moves the booking to.
Reply = Callable[[SagaDesk, uuid.UUID], Envelope]
SCENARIOS: dict[str, tuple[str, Reply, str]] = {
    "hold.reserved": ("pending", SagaDesk.reserved, "payment_pending"),
    "hold.rejected": ("pending", SagaDesk.rejected, "failed"),
    "debit.succeeded": ("payment_pending", SagaDesk.debited, "confirming"),
    "debit.declined": ("payment_pending", SagaDesk.declined, "reserved"),
    "hold.confirmed": ("confirming", SagaDesk.confirmed, "confirmed"),
    "hold.confirm_rejected": ("confirming", SagaDesk.confirm_rejected, "failed"),
    "hold.released": ("cancelling", SagaDesk.released, "cancelling"),
    "refund.succeeded": ("cancelling", lambda desk, booking_id: desk.refunded(booking_id, FARE), "cancelling"),
    "hold.expired": ("reserved", SagaDesk.hold_expired, "expired"),
}


def replied(desk: SagaDesk, reply: str) -> tuple[uuid.UUID, Envelope]:
    """A booking that awaited ``reply``, once the reply was delivered, and the envelope that delivered it."""
    awaiting, deliver, _ = SCENARIOS[reply]
    booking_id = desk.booking_in(awaiting)
    return booking_id, deliver(desk, booking_id)


# Twice -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", SCENARIOS)
def test_the_same_envelope_delivered_again_is_a_duplicate_and_changes_nothing(desk: SagaDesk, reply: str) -> None:
    booking_id, envelope = replied(desk, reply)
    assert desk.status(booking_id) == SCENARIOS[reply][2]
    row_before = desk.booking(booking_id)
    before = snapshot(desk, booking_id)

    assert desk.deliver(envelope) is Outcome.DUPLICATE

    assert desk.booking(booking_id) == row_before
    assert snapshot(desk, booking_id) == before


@pytest.mark.parametrize("reply", SCENARIOS)
def test_the_same_answer_in_a_new_envelope_moves_nothing_and_sends_nothing_twice(desk: SagaDesk, reply: str) -> None:
    booking_id, envelope = replied(desk, reply)
    before = snapshot(desk, booking_id)

    assert resend(desk, envelope) is Outcome.APPLIED

    assert desk.status(booking_id) == SCENARIOS[reply][2]
    assert snapshot(desk, booking_id) == before


def test_a_second_debit_with_the_same_transaction_confirms_once(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("payment_pending")
    transaction_id = uuid.uuid4()
    desk.debited(booking_id, transaction_id)
    desk.confirmed(booking_id)

    desk.debited(booking_id, transaction_id)

    assert desk.status(booking_id) == "confirmed"
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "payments.cmd.debit", "inventory.cmd.confirm"]
    assert [to for _, to in desk.history(booking_id)].count("confirming") == 1


def test_a_second_hold_reserved_neither_reprices_nor_pays_again(desk: SagaDesk) -> None:
    booking_id = desk.place()
    first = desk.reserved(booking_id)
    expires_at = desk.booking(booking_id)["expires_at"]

    desk.reserved(booking_id, expires_in=timedelta(hours=2))

    booking = desk.booking(booking_id)
    assert booking["status"] == "payment_pending"
    assert booking["expires_at"] == expires_at == datetime.fromisoformat(first.payload["expires_at"])
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "payments.cmd.debit"]
    assert booking["payment_attempts"] == 1


def test_a_resent_decline_of_the_first_try_leaves_the_second_try_waiting(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("payment_pending")
    first_decline = desk.declined(booking_id)
    desk.pay(booking_id)
    before = snapshot(desk, booking_id)

    resend(desk, first_decline)

    assert desk.status(booking_id) == "payment_pending"
    assert snapshot(desk, booking_id) == before


# Late replies compensate -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "releases"),
    [
        # Cancelled or failed while pending: the late hold is the only one, and nothing released it yet.
        ("cancelled", 1),
        ("failed", 1),
        # Reserved before it expired: its expiry released the hold, so the reply is a copy and needs nothing.
        ("expired", 0),
    ],
    ids=["cancelled", "failed", "expired"],
)
def test_a_hold_reserved_for_a_booking_that_is_over_is_released_and_the_booking_stays_over(
    desk: SagaDesk, status: str, releases: int
) -> None:
    booking_id = desk.booking_in(status, expired_by="timer")
    before = snapshot(desk, booking_id)

    late = desk.reserved(booking_id)

    assert desk.status(booking_id) == status
    assert (
        commands_after(desk, booking_id, before)
        == [("inventory.cmd.release", {"booking_id": str(booking_id), "reason": "late_reserve"})] * releases
    )
    assert desk.history(booking_id) == before[1]
    assert desk.events(booking_id) == before[3]
    assert desk.booking(booking_id)["total_minor"] == before[0]["total_minor"]
    assert desk.deliver(late) is Outcome.DUPLICATE
    assert len(desk.commands(booking_id)) == len(before[2]) + releases


def test_a_hold_reserved_delivered_after_it_lapsed_neither_charges_nor_strands_a_booking_paid_on_reservation(
    desk: SagaDesk,
) -> None:
    # A consumer down for longer than the hold's TTL delivers the reservation after its expires_at. Payment may
    # only start before expires_at (saga rule 4), but the booking must still reach a stable state (rule 5): any
    # retry gets the same answer from inventory, so a refusal here would keep the booking pending for good.
    booking_id = desk.place()

    desk.reserved(booking_id, expires_in=-timedelta(seconds=5))
    desk.expire_due()

    assert desk.status(booking_id) == "expired"
    assert "payments.cmd.debit" not in desk.command_subjects(booking_id)
    assert len(release_reasons(desk, booking_id)) == 1  # its items go back to sale


def late_debit(booking_id: uuid.UUID, transaction_id: uuid.UUID) -> DebitSucceeded:
    """Payments' answer to the booking's first debit, taken after the booking stopped waiting for it."""
    return DebitSucceeded(
        booking_id=booking_id,
        customer_id="cust-asha",
        amount=inr(FARE),
        transaction_id=transaction_id,
        idempotency_key=debit_key(booking_id),
    )


def test_a_debit_taken_after_expiry_is_refunded_in_full_once_and_the_booking_stays_expired(desk: SagaDesk) -> None:
    booking_id = expired_booking(desk)
    before = snapshot(desk, booking_id)
    transaction_id = uuid.uuid4()

    envelope = desk.reply(late_debit(booking_id, transaction_id))

    booking = desk.booking(booking_id)
    assert booking["status"] == "expired"
    assert booking["debit_transaction_id"] == transaction_id
    assert booking["confirmed_at"] is None
    assert commands_after(desk, booking_id, before) == [
        (
            "payments.cmd.refund",
            {
                "booking_id": str(booking_id),
                "amount": None,
                "reason": "late_debit",
                "idempotency_key": refund_key(booking_id, "late_debit"),
            },
        )
    ]
    assert desk.history(booking_id) == before[1]
    assert desk.events(booking_id) == before[3]

    assert desk.deliver(envelope) is Outcome.DUPLICATE
    assert resend(desk, envelope) is Outcome.APPLIED
    assert desk.command_subjects(booking_id).count("payments.cmd.refund") == 1
    assert desk.status(booking_id) == "expired"


def test_the_refund_of_a_late_debit_is_recorded_and_the_booking_stays_expired(desk: SagaDesk) -> None:
    booking_id = expired_booking(desk)
    desk.reply(late_debit(booking_id, uuid.uuid4()))
    before = snapshot(desk, booking_id)

    desk.refunded(booking_id, FARE, reason="late_debit")

    booking = desk.booking(booking_id)
    assert booking["status"] == "expired"
    assert booking["refund_minor"] == FARE
    assert desk.history(booking_id) == before[1]
    assert desk.commands(booking_id) == before[2]
    assert desk.events(booking_id) == before[3]


def _cancelled_while_pending(desk: SagaDesk) -> uuid.UUID:
    return desk.booking_in("cancelled")


def _failed_after_payment(desk: SagaDesk) -> uuid.UUID:
    """Paid for, but inventory refused to sell the hold."""
    booking_id = desk.booking_in("confirming")
    desk.confirm_rejected(booking_id)
    return booking_id


@pytest.mark.parametrize(
    ("over", "status"),
    [(_cancelled_while_pending, "cancelled"), (expired_booking, "expired"), (_failed_after_payment, "failed")],
    ids=["cancelled", "expired", "failed"],
)
def test_items_sold_to_a_booking_that_is_over_and_never_confirmed_are_released(
    desk: SagaDesk, over: Callable[[SagaDesk], uuid.UUID], status: str
) -> None:
    booking_id = over(desk)
    before = snapshot(desk, booking_id)

    desk.confirmed(booking_id)

    assert desk.status(booking_id) == status
    assert desk.booking(booking_id)["confirmed_at"] is None
    assert commands_after(desk, booking_id, before) == [
        ("inventory.cmd.release", {"booking_id": str(booking_id), "reason": "late_confirm"})
    ]
    assert desk.history(booking_id) == before[1]


def test_a_hold_reserved_for_a_cancelled_confirmed_booking_releases_nothing(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("cancelling")
    desk.released(booking_id)
    desk.refunded(booking_id, FARE)
    assert desk.status(booking_id) == "cancelled"
    before = snapshot(desk, booking_id)

    desk.reserved(booking_id)

    # It was sold and its cancellation released it already: another release would name nothing new.
    assert snapshot(desk, booking_id) == before


# Replies out of turn -----------------------------------------------------------------------------------------


def _decline_first_try(desk: SagaDesk, booking_id: uuid.UUID) -> None:
    desk.reply(
        DebitDeclined(
            booking_id=booking_id,
            customer_id="cust-asha",
            amount=inr(FARE),
            reason="insufficient_funds",
            detail="The wallet holds too little.",
            idempotency_key=debit_key(booking_id),
        )
    )


def _release(reason: str) -> Callable[[SagaDesk, uuid.UUID], object]:
    return lambda desk, booking_id: desk.released(booking_id, reason)


# Each case: the booking (in a status, an expired one expired by the timer) and the reply it does not expect.
OUT_OF_TURN: dict[str, tuple[str, Callable[[SagaDesk, uuid.UUID], object]]] = {
    "debit.declined to a reserved booking": ("reserved", _decline_first_try),
    "debit.declined to a confirming booking": ("confirming", _decline_first_try),
    "debit.declined to a confirmed booking": ("confirmed", _decline_first_try),
    "hold.released after expiry": ("expired", _release("expired")),
    "hold.released of a confirmed booking": ("confirmed", _release("cancelled")),
    "hold.released of a booking cancelled before payment": ("cancelled", _release("cancelled")),
    "hold.rejected to a reserved booking": ("reserved", SagaDesk.rejected),
    "hold.confirmed to a reserved booking": ("reserved", SagaDesk.confirmed),
    "hold.confirm_rejected to a confirmed booking": ("confirmed", SagaDesk.confirm_rejected),
    "hold.expired to a confirmed booking": ("confirmed", SagaDesk.hold_expired),
}


@pytest.mark.parametrize("case", OUT_OF_TURN)
def test_a_reply_the_booking_does_not_expect_changes_nothing(desk: SagaDesk, case: str) -> None:
    status, deliver = OUT_OF_TURN[case]
    booking_id = desk.booking_in(status, expired_by="timer")
    before = snapshot(desk, booking_id)

    deliver(desk, booking_id)

    assert snapshot(desk, booking_id) == before


def test_a_release_for_another_reason_does_not_settle_a_cancellation(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("cancelling")
    desk.refunded(booking_id, FARE)
    before = snapshot(desk, booking_id)

    desk.released(booking_id, reason="late_reserve")

    assert desk.status(booking_id) == "cancelling"
    assert snapshot(desk, booking_id) == before


def test_a_refund_for_another_reason_records_the_refunded_total_but_settles_nothing(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("cancelling", starts_at=datetime.now(UTC) + timedelta(hours=5))  # half back
    assert desk.booking(booking_id)["refund_minor"] == FARE // 2
    before = snapshot(desk, booking_id)

    desk.refunded(booking_id, FARE, reason="late_debit")

    booking = desk.booking(booking_id)
    assert booking["status"] == "cancelling"
    assert booking["awaiting_refund"] is True
    assert booking["refund_minor"] == FARE
    assert desk.history(booking_id) == before[1]
    assert desk.commands(booking_id) == before[2]
