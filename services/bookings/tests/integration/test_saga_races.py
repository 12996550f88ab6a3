"""The saga under concurrency on a real PostgreSQL: requests, replies and timers racing in threads, each in its own
transaction as web workers, consumers and timer loops run them. The booking's row lock and the inbox make every
race end in one consistent state: one transition per change, one command per step, compensation when needed."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from bookings.domain.lifecycle import InvalidTransition
from tripline.contracts.payments import DebitSucceeded, debit_key
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import Outcome
from tripline.testing import sql

from ..saga_desk import FARE, SagaDesk, inr

T = TypeVar("T")
# Below the desk's connection pool, and enough threads to keep both cores and the database busy.
THREADS = 16


def all_at_once(tasks: Iterable[Callable[[], T]]) -> list[T | Exception]:
    """Run every task from a pool of threads; results (or the exception raised) in task order."""

    def run(task: Callable[[], T]) -> T | Exception:
        try:
            return task()
        except Exception as error:  # the race decides which side is refused; the test looks at which
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, tasks))


def envelope_of(payload: DebitSucceeded) -> Envelope:
    return Envelope.wrap(payload, source="payments", correlation_id=str(payload.booking_id))


def debit_succeeded(booking_id: uuid.UUID) -> DebitSucceeded:
    """Payments' success for the booking's first debit."""
    return DebitSucceeded(
        booking_id=booking_id,
        customer_id="cust-asha",
        amount=inr(FARE),
        transaction_id=uuid.uuid4(),
        idempotency_key=debit_key(booking_id),
    )


def release_reasons(desk: SagaDesk, booking_id: uuid.UUID) -> list[str]:
    return [payload["reason"] for subject, payload in desk.commands(booking_id) if subject == "inventory.cmd.release"]


# Cancel against hold.reserved --------------------------------------------------------------------------------


def test_a_cancel_racing_the_hold_always_ends_cancelled_with_the_items_released(desk: SagaDesk) -> None:
    bookings = [desk.place(pay=False) for _ in range(24)]
    holds = {booking_id: desk.hold_reserved(booking_id) for booking_id in bookings}
    tasks: list[Callable[[], object]] = []
    for n, booking_id in enumerate(bookings):
        pair: list[Callable[[], object]] = [partial(desk.cancel, booking_id), partial(desk.reply, holds[booking_id])]
        tasks.extend(pair if n % 2 else reversed(pair))

    results = all_at_once(tasks)

    assert not [result for result in results if isinstance(result, Exception)]
    for booking_id in bookings:
        booking = desk.booking(booking_id)
        assert booking["status"] == "cancelled"
        assert booking["cancelled_at"] is not None
        history = desk.history(booking_id)
        assert history in (
            [(None, "pending"), ("pending", "cancelled")],
            [(None, "pending"), ("pending", "reserved"), ("reserved", "cancelled")],
        )
        # The hold that lost the race is released again as late: inventory ends with nothing held either way.
        expected_releases = ["cancelled"] if len(history) == 3 else ["cancelled", "late_reserve"]
        assert release_reasons(desk, booking_id) == expected_releases
        assert "payments.cmd.debit" not in desk.command_subjects(booking_id)
        assert booking["payment_requested_at"] is None


def test_a_cancel_racing_the_hold_of_a_booking_paid_on_reservation_never_both_cancels_and_charges(
    desk: SagaDesk,
) -> None:
    bookings = [desk.place() for _ in range(24)]
    holds = {booking_id: desk.hold_reserved(booking_id) for booking_id in bookings}
    tasks: list[Callable[[], object]] = []
    for booking_id in bookings:
        tasks += [partial(desk.reply, holds[booking_id]), partial(desk.cancel, booking_id)]

    results = all_at_once(tasks)

    cancels = dict(zip(bookings, results[1::2], strict=True))
    for booking_id in bookings:
        subjects = desk.command_subjects(booking_id)
        if isinstance(cancels[booking_id], InvalidTransition):
            # The hold won and paying began: a booking being paid cannot be cancelled, and nothing is released.
            assert desk.status(booking_id) == "payment_pending"
            assert subjects == ["inventory.cmd.reserve", "payments.cmd.debit"]
        else:
            assert desk.status(booking_id) == "cancelled"
            assert "payments.cmd.debit" not in subjects
            assert release_reasons(desk, booking_id) in (["cancelled"], ["cancelled", "late_reserve"])


def test_a_cancel_racing_the_expiry_timer_ends_one_way_and_releases_once(desk: SagaDesk) -> None:
    bookings = [desk.place(pay=False) for _ in range(24)]
    for booking_id in bookings:
        desk.reserved(booking_id)
    sql(desk.database_url, "UPDATE bookings SET expires_at = now() - interval '1 second'")
    timers: list[Callable[[], object]] = [desk.expire_due for _ in range(4)]
    cancels: list[Callable[[], object]] = [partial(desk.cancel, booking_id) for booking_id in bookings]
    tasks = cancels[:12] + timers + cancels[12:]

    results = all_at_once(tasks)

    expired_by_timers = sum(result for result in results if isinstance(result, int))
    refused = [result for result in results if isinstance(result, Exception)]
    assert all(isinstance(error, InvalidTransition) for error in refused)
    statuses = Counter(desk.status(booking_id) for booking_id in bookings)
    assert statuses == Counter(expired=expired_by_timers, cancelled=len(bookings) - expired_by_timers)
    assert len(refused) == expired_by_timers
    for booking_id in bookings:
        history = desk.history(booking_id)
        assert history[:2] == [(None, "pending"), ("pending", "reserved")]
        assert len(history) == 3
        assert release_reasons(desk, booking_id) == [history[2][1]]  # "expired" or "cancelled", once


# Timers against each other -----------------------------------------------------------------------------------


def test_timers_running_at_once_expire_each_booking_exactly_once(desk: SagaDesk) -> None:
    bookings = all_at_once([lambda: desk.place(pay=False) for _ in range(130)])  # more than one timer batch
    for booking_id in bookings:
        assert isinstance(booking_id, uuid.UUID)
        desk.reserved(booking_id)
    sql(desk.database_url, "UPDATE bookings SET expires_at = now() - interval '1 second'")

    expired_by_each = all_at_once([desk.expire_due for _ in range(4)])

    assert sum(count for count in expired_by_each if isinstance(count, int)) == len(bookings)
    assert sql(desk.database_url, "SELECT status, count(*) FROM bookings GROUP BY status") == [
        ("expired", len(bookings))
    ]
    rows = sql(
        desk.database_url,
        "SELECT booking_id, count(*) FROM booking_transitions WHERE to_status = 'expired' GROUP BY booking_id",
    )
    assert sorted(rows) == sorted((booking_id, 1) for booking_id in bookings)
    releases = sql(desk.database_url, "SELECT count(*) FROM outbox WHERE subject = 'inventory.cmd.release'")
    assert releases == [(len(bookings),)]
    expired_events = sql(
        desk.database_url, "SELECT count(*) FROM outbox WHERE subject = 'bookings.evt.booking.expired'"
    )
    assert expired_events == [(len(bookings),)]


# Deliveries against each other -------------------------------------------------------------------------------


def test_concurrent_deliveries_of_one_envelope_apply_it_once(desk: SagaDesk) -> None:
    booking_id = desk.booking_in("payment_pending")
    envelope = envelope_of(debit_succeeded(booking_id))

    outcomes = all_at_once([lambda: desk.deliver(envelope) for _ in range(20)])

    assert Counter(outcomes) == {Outcome.APPLIED: 1, Outcome.DUPLICATE: 19}
    assert desk.status(booking_id) == "confirming"
    assert desk.history(booking_id).count(("payment_pending", "confirming")) == 1
    assert desk.command_subjects(booking_id).count("inventory.cmd.confirm") == 1


def test_concurrent_resends_of_one_hold_move_the_booking_once_and_ask_for_payment_once(desk: SagaDesk) -> None:
    booking_id = desk.place()
    hold = desk.hold_reserved(booking_id)

    outcomes = all_at_once([lambda: desk.reply(hold) for _ in range(20)])

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert desk.status(booking_id) == "payment_pending"
    assert desk.history(booking_id) == [(None, "pending"), ("pending", "reserved"), ("reserved", "payment_pending")]
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve", "payments.cmd.debit"]


def test_a_release_and_a_refund_answering_at_once_settle_the_cancellation_once(desk: SagaDesk) -> None:
    bookings = [desk.booking_in("cancelling") for _ in range(12)]  # each to be refunded in full
    tasks: list[Callable[[], object]] = []
    for booking_id in bookings:
        answers: list[Callable[[], object]] = [
            partial(desk.released, booking_id),
            partial(desk.refunded, booking_id, FARE),
        ]
        random.shuffle(answers)
        tasks += answers

    results = all_at_once(tasks)

    assert not [result for result in results if isinstance(result, Exception)]
    for booking_id in bookings:
        booking = desk.booking(booking_id)
        assert booking["status"] == "cancelled"
        assert booking["refund_minor"] == FARE
        assert desk.history(booking_id)[-2:] == [("confirmed", "cancelling"), ("cancelling", "cancelled")]
        assert desk.events(booking_id).count("bookings.evt.booking.cancelled") == 1
