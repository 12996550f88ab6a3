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

from tripline.contracts.inventory import HoldReleased
from tripline.contracts.payments import DebitDeclined, DebitSucceeded, debit_key, refund_key
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import Outcome

from ..saga_desk import FARE, SagaDesk, inr

Snapshot = tuple[dict[str, Any], list[tuple[str | None, str]], list[tuple[str, dict[str, Any]]], list[str]]


def snapshot(desk: SagaDesk, booking_id: uuid.UUID) -> Snapshot:
    """Everything a reply could change: the row (all but updated_at), its history, commands and events."""
    booking = dict(desk.booking(booking_id))
    del booking["updated_at"]
    return booking, desk.history(booking_id), desk.commands(booking_id), desk.events(booking_id)


def resend(desk: SagaDesk, envelope: Envelope) -> Outcome:
    """The same answer again in a new envelope, as a participant answering a repeated command sends it."""
    return desk.deliver(Envelope.wrap(envelope.open(), source=envelope.source, correlation_id=envelope.correlation_id))


def commands_after(desk: SagaDesk, booking_id: uuid.UUID, before: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    """Commands queued for the booking since ``before`` was taken."""
    return desk.commands(booking_id)[len(before[2]) :]


def release_reasons(desk: SagaDesk, booking_id: uuid.UUID) -> list[str]:
    return [payload["reason"] for subject, payload in desk.commands(booking_id) if subject == "inventory.cmd.release"]


def expired_booking(desk: SagaDesk) -> uuid.UUID:
    """A booking reserved, never paid, and expired by the timer."""
    booking_id = desk.place(pay=False)
    desk.reserved(booking_id)
    desk.set_times(booking_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert desk.expire_due() == 1
    return booking_id


# Each scenario brings a booking to where one reply applies, delivers it, and returns the booking and the envelope.
Scenario = Callable[[SagaDesk], tuple[uuid.UUID, Envelope]]


def _hold_reserved(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = desk.place()
    return booking_id, desk.reserved(booking_id)


def _hold_rejected(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = desk.place()
    return booking_id, desk.rejected(booking_id)


def _debit_succeeded(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = desk.place()
    desk.reserved(booking_id)
    return booking_id, desk.debited(booking_id)


def _debit_declined(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = desk.place()
    desk.reserved(booking_id)
    return booking_id, desk.declined(booking_id)


def _hold_confirmed(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id, _ = _debit_succeeded(desk)
    return booking_id, desk.confirmed(booking_id)


def _hold_confirm_rejected(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id, _ = _debit_succeeded(desk)
    return booking_id, desk.confirm_rejected(booking_id)


def _cancelling(desk: SagaDesk) -> uuid.UUID:
    """A confirmed booking, cancelled days before it starts: waiting for its release and its full refund."""
    booking_id = desk.place()
    desk.reserved(booking_id, starts_at=datetime.now(UTC) + timedelta(days=5))
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    assert desk.cancel(booking_id)["status"] == "cancelling"
    return booking_id


def _hold_released(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = _cancelling(desk)
    return booking_id, desk.released(booking_id)


def _refund_succeeded(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = _cancelling(desk)
    return booking_id, desk.refunded(booking_id, FARE)


def _hold_expired(desk: SagaDesk) -> tuple[uuid.UUID, Envelope]:
    booking_id = desk.place(pay=False)
    desk.reserved(booking_id)
    return booking_id, desk.hold_expired(booking_id)


SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "hold.reserved": (_hold_reserved, "payment_pending"),
    "hold.rejected": (_hold_rejected, "failed"),
    "debit.succeeded": (_debit_succeeded, "confirming"),
    "debit.declined": (_debit_declined, "reserved"),
    "hold.confirmed": (_hold_confirmed, "confirmed"),
    "hold.confirm_rejected": (_hold_confirm_rejected, "failed"),
    "hold.released": (_hold_released, "cancelling"),
    "refund.succeeded": (_refund_succeeded, "cancelling"),
    "hold.expired": (_hold_expired, "expired"),
}


# Twice -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", SCENARIOS)
def test_the_same_envelope_delivered_again_is_a_duplicate_and_changes_nothing(desk: SagaDesk, reply: str) -> None:
    scenario, status_after = SCENARIOS[reply]
    booking_id, envelope = scenario(desk)
    assert desk.status(booking_id) == status_after
    row_before = desk.booking(booking_id)
    before = snapshot(desk, booking_id)

    assert desk.deliver(envelope) is Outcome.DUPLICATE

    assert desk.booking(booking_id) == row_before
    assert snapshot(desk, booking_id) == before


@pytest.mark.parametrize("reply", SCENARIOS)
def test_the_same_answer_in_a_new_envelope_moves_nothing_and_sends_nothing_twice(desk: SagaDesk, reply: str) -> None:
    scenario, status_after = SCENARIOS[reply]
    booking_id, envelope = scenario(desk)
    before = snapshot(desk, booking_id)

    assert resend(desk, envelope) is Outcome.APPLIED

    assert desk.status(booking_id) == status_after
    assert snapshot(desk, booking_id) == before


def test_a_second_debit_with_the_same_transaction_confirms_once(desk: SagaDesk) -> None:
    booking_id = desk.place()
    desk.reserved(booking_id)
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
    booking_id = desk.place()
    desk.reserved(booking_id)
    first_decline = desk.declined(booking_id)
    desk.pay(booking_id)
    before = snapshot(desk, booking_id)

    resend(desk, first_decline)

    assert desk.status(booking_id) == "payment_pending"
    assert snapshot(desk, booking_id) == before


# Late replies compensate -------------------------------------------------------------------------------------


def _cancelled_while_pending(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.place()
    desk.cancel(booking_id)
    return booking_id


def _failed_while_pending(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.place()
    desk.rejected(booking_id)
    return booking_id


@pytest.mark.parametrize(
    ("over", "status", "releases"),
    [
        (_cancelled_while_pending, "cancelled", 1),
        (_failed_while_pending, "failed", 1),
        # Reserved before it expired: its expiry released the hold, so the reply is a copy and needs nothing.
        (expired_booking, "expired", 0),
    ],
    ids=["cancelled", "failed", "expired"],
)
def test_a_hold_reserved_for_a_booking_that_is_over_is_released_and_the_booking_stays_over(
    desk: SagaDesk, over: Callable[[SagaDesk], uuid.UUID], status: str, releases: int
) -> None:
    booking_id = over(desk)
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


def _failed_after_payment(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.place()
    desk.reserved(booking_id)
    desk.debited(booking_id)
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
    booking_id = _cancelling(desk)
    desk.released(booking_id)
    desk.refunded(booking_id, FARE)
    assert desk.status(booking_id) == "cancelled"
    before = snapshot(desk, booking_id)

    desk.reserved(booking_id)

    # It was sold and its cancellation released it already: another release would name nothing new.
    assert snapshot(desk, booking_id) == before


# Replies out of turn -----------------------------------------------------------------------------------------


def _reserved(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.place(pay=False)
    desk.reserved(booking_id)
    return booking_id


def _confirming(desk: SagaDesk) -> uuid.UUID:
    booking_id, _ = _debit_succeeded(desk)
    return booking_id


def _confirmed(desk: SagaDesk) -> uuid.UUID:
    booking_id, _ = _hold_confirmed(desk)
    return booking_id


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


def _release(reason: str) -> Callable[[SagaDesk, uuid.UUID], None]:
    def deliver(desk: SagaDesk, booking_id: uuid.UUID) -> None:
        desk.reply(HoldReleased(booking_id=booking_id, reason=reason, was_held=True))

    return deliver


def _reject(desk: SagaDesk, booking_id: uuid.UUID) -> None:
    desk.rejected(booking_id)


def _confirm(desk: SagaDesk, booking_id: uuid.UUID) -> None:
    desk.confirmed(booking_id)


def _refuse_to_confirm(desk: SagaDesk, booking_id: uuid.UUID) -> None:
    desk.confirm_rejected(booking_id)


def _let_hold_expire(desk: SagaDesk, booking_id: uuid.UUID) -> None:
    desk.hold_expired(booking_id)


OUT_OF_TURN: dict[str, tuple[Callable[[SagaDesk], uuid.UUID], Callable[[SagaDesk, uuid.UUID], None]]] = {
    "debit.declined to a reserved booking": (_reserved, _decline_first_try),
    "debit.declined to a confirming booking": (_confirming, _decline_first_try),
    "debit.declined to a confirmed booking": (_confirmed, _decline_first_try),
    "hold.released after expiry": (expired_booking, _release("expired")),
    "hold.released of a confirmed booking": (_confirmed, _release("cancelled")),
    "hold.released of a booking cancelled before payment": (_cancelled_while_pending, _release("cancelled")),
    "hold.rejected to a reserved booking": (_reserved, _reject),
    "hold.confirmed to a reserved booking": (_reserved, _confirm),
    "hold.confirm_rejected to a confirmed booking": (_confirmed, _refuse_to_confirm),
    "hold.expired to a confirmed booking": (_confirmed, _let_hold_expire),
}


@pytest.mark.parametrize("case", OUT_OF_TURN)
def test_a_reply_the_booking_does_not_expect_changes_nothing(desk: SagaDesk, case: str) -> None:
    arrange, deliver = OUT_OF_TURN[case]
    booking_id = arrange(desk)
    before = snapshot(desk, booking_id)

    deliver(desk, booking_id)

    assert snapshot(desk, booking_id) == before


def test_a_release_for_another_reason_does_not_settle_a_cancellation(desk: SagaDesk) -> None:
    booking_id = _cancelling(desk)
    desk.refunded(booking_id, FARE)
    before = snapshot(desk, booking_id)

    desk.released(booking_id, reason="late_reserve")

    assert desk.status(booking_id) == "cancelling"
    assert snapshot(desk, booking_id) == before


def test_a_refund_for_another_reason_records_the_refunded_total_but_settles_nothing(desk: SagaDesk) -> None:
    booking_id = desk.place()
    desk.reserved(booking_id, starts_at=datetime.now(UTC) + timedelta(hours=5))  # half back by policy
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    desk.cancel(booking_id)
    assert desk.booking(booking_id)["refund_minor"] == FARE // 2
    before = snapshot(desk, booking_id)

    desk.refunded(booking_id, FARE, reason="late_debit")

    booking = desk.booking(booking_id)
    assert booking["status"] == "cancelling"
    assert booking["awaiting_refund"] is True
    assert booking["refund_minor"] == FARE
    assert desk.history(booking_id) == before[1]
    assert desk.commands(booking_id) == before[2]
