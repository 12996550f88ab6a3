"""The saga at its edges: bookings that cost nothing or more than one payment may move, a hold released while a
paid booking waits to be sold, a pay or cancel retried after its answer was lost, the order of a booking's events,
and a timer that cannot move one booking."""

from __future__ import annotations

import uuid

import pytest

from bookings.domain.lifecycle import InvalidTransition
from bookings.service_layer import timers
from bookings.service_layer.saga import NotPayable
from tripline.contracts.payments import MAX_PAYMENT_MINOR
from tripline.testing import sql

from ..saga_desk import SagaDesk, inr


def priced_at(desk: SagaDesk, booking_id: uuid.UUID, total_minor: int) -> None:
    """Inventory's hold.reserved, with the booking's total set to ``total_minor``."""
    desk.reply(desk.hold_reserved(booking_id).model_copy(update={"total": inr(total_minor)}))


def test_a_booking_that_costs_nothing_is_sold_without_asking_payments(desk: SagaDesk) -> None:
    booking_id = desk.place()

    priced_at(desk, booking_id, 0)
    desk.confirmed(booking_id)

    assert desk.status(booking_id) == "confirmed"
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "inventory.cmd.confirm"]
    desk.cancel(booking_id)
    assert desk.command_subjects(booking_id)[-1] == "inventory.cmd.release"  # nothing to refund


def test_a_booking_priced_above_one_payment_waits_reserved_with_the_reason_and_is_never_debited(
    desk: SagaDesk,
) -> None:
    booking_id = desk.place()

    priced_at(desk, booking_id, MAX_PAYMENT_MINOR + 1)

    booking = desk.booking(booking_id)
    assert (booking["status"], booking["failure_code"]) == ("reserved", "payment_limit_exceeded")
    with pytest.raises(NotPayable):
        desk.pay(booking_id)
    assert "payments.cmd.debit" not in desk.command_subjects(booking_id)


def test_a_hold_released_while_a_paid_booking_waits_to_be_sold_fails_it_and_refunds_everything(
    desk: SagaDesk,
) -> None:
    booking_id = desk.booking_in("confirming")

    desk.hold_expired(booking_id)

    booking = desk.booking(booking_id)
    assert (booking["status"], booking["failure_code"]) == ("failed", "hold_lapsed")
    subject, refund = desk.commands(booking_id)[-1]
    assert (subject, refund["reason"], refund["amount"]) == ("payments.cmd.refund", "confirm_rejected", None)
    desk.confirm_rejected(booking_id)  # the confirm's own refusal, arriving after: nothing more
    assert [s for s in desk.command_subjects(booking_id) if s == "payments.cmd.refund"] == ["payments.cmd.refund"]


def test_a_pay_retried_under_its_key_after_it_was_applied_gets_the_booking_again(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("reserved")
    desk.pay(booking_id, key="pay-1")

    again = desk.pay(booking_id, key="pay-1")

    assert again["status"] == "payment_pending"
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == 1
    with pytest.raises(InvalidTransition):  # a new request is refused as usual
        desk.pay(booking_id, key="pay-2")


def test_a_cancel_retried_under_its_key_after_it_was_applied_gets_the_booking_again(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("confirmed")
    desk.cancel(booking_id, key="cancel-1")

    again = desk.cancel(booking_id, key="cancel-1")

    assert again["status"] == "cancelling"
    assert desk.command_subjects(booking_id).count("payments.cmd.refund") == 1


def test_each_event_of_a_booking_carries_its_change_count(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("confirmed")

    rows = sql(
        desk.database_url,
        "SELECT envelope->'payload'->>'status', (envelope->'payload'->>'version')::int FROM outbox"
        " WHERE subject LIKE 'bookings.evt.%%' AND envelope->>'correlation_id' = %s ORDER BY 2",
        str(booking_id),
    )

    assert rows == [("pending", 1), ("reserved", 2), ("payment_pending", 3), ("confirming", 4), ("confirmed", 5)]
    assert desk.booking(booking_id)["version"] == 5


def test_a_booking_the_expiry_timer_cannot_move_is_left_due_without_holding_back_the_others(
    desk: SagaDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, fine = desk.booking_in("reserved"), desk.booking_in("reserved")
    sql(desk.database_url, "UPDATE bookings SET expires_at = now() - interval '1 second'")
    expire = timers._expire

    def expire_all_but_the_broken(uow, booking, rules, now):  # type: ignore[no-untyped-def]
        if booking["id"] == broken:
            raise RuntimeError("a row the timer cannot move")
        expire(uow, booking, rules, now)

    monkeypatch.setattr(timers, "_expire", expire_all_but_the_broken)
    desk.expire_due()

    assert (desk.status(broken), desk.status(fine)) == ("reserved", "expired")


@pytest.mark.parametrize("status", ["payment_pending", "confirming"])
def test_an_admin_abandons_a_stuck_payment_or_sale_releasing_and_refunding_everything(
    desk: SagaDesk, status: str
) -> None:
    booking_id = desk.booking_in(status)

    abandoned = desk.abandon(booking_id)

    assert (abandoned["status"], abandoned["failure_code"]) == ("failed", "abandoned")
    compensations = {subject: payload for subject, payload in desk.commands(booking_id)[-2:]}
    assert compensations["inventory.cmd.release"]["reason"] == "abandoned"
    assert (compensations["payments.cmd.refund"]["reason"], compensations["payments.cmd.refund"]["amount"]) == (
        "abandoned",
        None,
    )
    if status == "payment_pending":  # the debit still lands: it is refunded as late, and payments caps the total
        desk.debited(booking_id)
        assert desk.commands(booking_id)[-1][1]["reason"] == "late_debit"


@pytest.mark.parametrize("status", ["pending", "reserved", "confirmed", "cancelling", "cancelled"])
def test_only_a_payment_or_sale_can_be_abandoned(desk: SagaDesk, status: str) -> None:
    booking_id = desk.booking_in(status)

    with pytest.raises(InvalidTransition):
        desk.abandon(booking_id)
    assert desk.status(booking_id) == status
