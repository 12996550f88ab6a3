"""The saga's durable timers and admin actions on a real PostgreSQL: unpaid reservations expire, finished trips
complete, bookings waiting past their deadline count as stuck and can be retried, and only bookings that are over
can be deleted. Each timer acts on exactly the bookings it is due for and on nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from bookings.domain.lifecycle import InvalidTransition
from bookings.service_layer.saga import NotWaiting
from tripline.contracts.payments import debit_key

from ..saga_desk import FARE, SagaDesk


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


# Every status, and the groups the timers and admin actions tell apart (``desk.booking_in`` makes each).
STATUSES = (
    "pending",
    "reserved",
    "payment_pending",
    "confirming",
    "confirmed",
    "cancelling",
    "cancelled",
    "expired",
    "failed",
    "completed",
)
TRANSITIONAL = ("pending", "payment_pending", "confirming", "cancelling")
OVER = ("cancelled", "expired", "failed", "completed")
STABLE = ("reserved", "confirmed", *OVER)


# Expiry ------------------------------------------------------------------------------------------------------


def test_only_reserved_bookings_past_expires_at_expire_and_each_is_released(desk: SagaDesk) -> None:
    due = desk.booking_in("reserved")
    not_yet = desk.booking_in("reserved")
    being_paid = desk.booking_in("payment_pending")
    paid = desk.booking_in("confirmed")
    for booking_id in (due, being_paid, paid):
        desk.set_times(booking_id, expires_at=ago(seconds=1))
    untouched = {booking_id: desk.snapshot(booking_id) for booking_id in (not_yet, being_paid, paid)}

    assert desk.expire_due() == 1

    booking = desk.booking(due)
    assert booking["status"] == "expired"
    assert booking["expired_at"] is not None
    assert desk.history(due)[-1] == ("reserved", "expired")
    assert desk.commands(due)[-1] == ("inventory.cmd.release", {"booking_id": str(due), "reason": "expired"})
    assert {booking_id: desk.snapshot(booking_id) for booking_id in untouched} == untouched
    assert desk.expire_due() == 0
    assert desk.command_subjects(due).count("inventory.cmd.release") == 1


def test_a_reservation_whose_hold_inventory_let_go_expires_and_nothing_is_sent(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("reserved")
    commands = desk.commands(booking_id)

    desk.hold_expired(booking_id)

    booking = desk.booking(booking_id)
    assert booking["status"] == "expired"
    assert booking["expired_at"] is not None
    assert desk.history(booking_id)[-1] == ("reserved", "expired")
    assert desk.commands(booking_id) == commands  # inventory has freed the items itself
    assert desk.events(booking_id)[-1] == "bookings.evt.booking.expired"


def test_a_lapsed_hold_does_not_expire_a_booking_already_being_paid(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("payment_pending")
    before = desk.snapshot(booking_id)

    desk.hold_expired(booking_id)

    assert desk.snapshot(booking_id) == before
    desk.debited(booking_id)
    desk.confirmed(booking_id)
    assert desk.status(booking_id) == "confirmed"


# Completion --------------------------------------------------------------------------------------------------


def test_only_confirmed_bookings_whose_trip_has_ended_complete(desk: SagaDesk) -> None:
    ended = desk.booking_in("confirmed")
    still_travelling = desk.booking_in("confirmed")
    being_cancelled = desk.booking_in("cancelling")
    never_paid = desk.booking_in("reserved")
    for booking_id in (ended, being_cancelled, never_paid):
        desk.set_times(booking_id, ends_at=ago(seconds=1))
    untouched = {b: desk.snapshot(b) for b in (still_travelling, being_cancelled, never_paid)}
    commands = desk.commands(ended)

    assert desk.complete_due() == 1

    booking = desk.booking(ended)
    assert booking["status"] == "completed"
    assert booking["completed_at"] is not None
    assert desk.history(ended)[-1] == ("confirmed", "completed")
    assert desk.events(ended)[-1] == "bookings.evt.booking.completed"
    assert desk.commands(ended) == commands
    assert {booking_id: desk.snapshot(booking_id) for booking_id in untouched} == untouched
    assert desk.complete_due() == 0


# Stuck bookings ----------------------------------------------------------------------------------------------


def stuck_gauge() -> float | None:
    return REGISTRY.get_sample_value("tripline_bookings_stuck")


def test_transitional_bookings_past_their_deadline_are_counted_as_stuck(desk: SagaDesk) -> None:
    overdue = [desk.booking_in(status) for status in TRANSITIONAL]
    waiting_patiently = [desk.booking_in(status) for status in TRANSITIONAL]
    for status in STABLE:
        desk.booking_in(status)
    assert desk.count_stuck() == 0

    for booking_id in overdue:
        desk.set_times(booking_id, deadline_at=ago(seconds=1))

    assert desk.count_stuck() == len(TRANSITIONAL)
    assert stuck_gauge() == len(TRANSITIONAL)
    assert all(desk.booking(b)["deadline_at"] > datetime.now(UTC) for b in waiting_patiently)


def test_every_transitional_booking_has_a_deadline_and_no_other_booking_has_one(desk: SagaDesk) -> None:
    for status in STATUSES:
        booking = desk.booking(desk.booking_in(status))
        assert (booking["deadline_at"] is not None) == (status in TRANSITIONAL), status


def _awaiting_refund_only(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.booking_in("cancelling")
    desk.released(booking_id)
    return booking_id


def _awaiting_release_only(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.booking_in("cancelling")
    desk.refunded(booking_id, FARE)
    return booking_id


def _paying_again(desk: SagaDesk) -> uuid.UUID:
    booking_id = desk.booking_in("payment_pending")
    desk.declined(booking_id)
    desk.pay(booking_id)
    return booking_id


RELEASE = ("inventory.cmd.release",)
REFUND = ("payments.cmd.refund",)

RETRIES: dict[str, tuple[Callable[[SagaDesk], uuid.UUID], tuple[str, ...]]] = {
    "pending": (lambda desk: desk.booking_in("pending"), ("inventory.cmd.reserve",)),
    "payment_pending": (lambda desk: desk.booking_in("payment_pending"), ("payments.cmd.debit",)),
    "payment_pending after a decline": (_paying_again, ("payments.cmd.debit",)),
    "confirming": (lambda desk: desk.booking_in("confirming"), ("inventory.cmd.confirm",)),
    "cancelling": (lambda desk: desk.booking_in("cancelling"), (*RELEASE, *REFUND)),
    "cancelling, released": (_awaiting_refund_only, REFUND),
    "cancelling, refunded": (_awaiting_release_only, RELEASE),
}


@pytest.mark.parametrize("case", RETRIES)
def test_a_retry_sends_again_exactly_the_commands_a_stuck_booking_waits_for(desk: SagaDesk, case: str) -> None:
    arrange, awaited = RETRIES[case]
    booking_id = arrange(desk)
    desk.set_times(booking_id, deadline_at=ago(minutes=5))
    assert desk.count_stuck() == 1
    row, history, commands, events = desk.snapshot(booking_id)

    retried = desk.retry(booking_id)

    resent = desk.commands(booking_id)[len(commands) :]
    assert sorted(subject for subject, _ in resent) == sorted(awaited)
    # The very same commands as before, so participants recognise them by their keys.
    last_sent = {subject: payload for subject, payload in commands}
    assert all(payload == last_sent[subject] for subject, payload in resent)
    assert retried["status"] == row["status"]
    assert retried["deadline_at"] > datetime.now(UTC)
    assert desk.count_stuck() == 0
    assert desk.history(booking_id) == history
    assert desk.events(booking_id) == events


def test_a_retried_payment_keeps_the_current_attempts_key(desk: SagaDesk) -> None:
    booking_id = _paying_again(desk)

    desk.retry(booking_id)

    debits = [payload for subject, payload in desk.commands(booking_id) if subject == "payments.cmd.debit"]
    assert [debit["idempotency_key"] for debit in debits] == [
        debit_key(booking_id),
        debit_key(booking_id, 2),
        debit_key(booking_id, 2),
    ]


@pytest.mark.parametrize("status", STABLE)
def test_a_booking_that_waits_for_no_service_cannot_be_retried(desk: SagaDesk, status: str) -> None:
    booking_id = desk.booking_in(status)
    before = desk.snapshot(booking_id)

    with pytest.raises(NotWaiting):
        desk.retry(booking_id)

    assert desk.snapshot(booking_id) == before


# Deleting ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", OVER)
def test_a_booking_that_is_over_is_deleted_softly_and_a_second_delete_changes_nothing(
    desk: SagaDesk, status: str
) -> None:
    booking_id = desk.booking_in(status)
    before = desk.booking(booking_id)

    desk.delete(booking_id)

    deleted = desk.booking(booking_id)
    assert deleted["deleted_at"] is not None
    assert deleted["status"] == status
    assert {k: v for k, v in deleted.items() if k not in ("deleted_at", "updated_at", "version")} == {
        k: v for k, v in before.items() if k not in ("deleted_at", "updated_at", "version")
    }
    after_first = desk.snapshot(booking_id)

    desk.delete(booking_id)

    assert desk.snapshot(booking_id) == after_first


@pytest.mark.parametrize("status", [s for s in STATUSES if s not in OVER])
def test_a_booking_that_is_not_over_cannot_be_deleted(desk: SagaDesk, status: str) -> None:
    booking_id = desk.booking_in(status)
    before = desk.snapshot(booking_id)

    with pytest.raises(InvalidTransition):
        desk.delete(booking_id)

    assert desk.snapshot(booking_id) == before
