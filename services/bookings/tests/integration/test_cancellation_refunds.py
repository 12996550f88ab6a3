"""Cancelling bookings on a real PostgreSQL: a confirmed booking is refunded by the deployment's policy (all of it
24 h or more before it starts, half from 2 h, nothing later; architecture.md, saga rule 6) and stays cancelling
until inventory has released its items and payments has settled its refund, in whichever order they answer.
Bookings that are being paid, confirmed or cancelled, or are over, cannot be cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookings.domain.lifecycle import InvalidTransition
from bookings.domain.refund_policy import RefundPolicy
from tripline.contracts.inventory import HoldReserved
from tripline.contracts.payments import refund_key
from tripline.testing import outbox_payloads

from ..saga_desk import CURRENCY, FARE, SagaDesk, bus_item, inr

PAID_COMMANDS = ["inventory.cmd.reserve", "payments.cmd.debit", "inventory.cmd.confirm"]


def confirmed_booking(desk: SagaDesk, starts_in: timedelta, seats: tuple[str, ...] = ("1A",)) -> uuid.UUID:
    """A paid and confirmed booking whose trip starts ``starts_in`` from now."""
    return desk.booking_in("confirmed", items=[bus_item(seats)], starts_at=datetime.now(UTC) + starts_in)


def cancellation_commands(desk: SagaDesk, booking_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    """Commands the cancellation sent (those after the confirmation), by subject."""
    commands = desk.commands(booking_id)
    assert [subject for subject, _ in commands[: len(PAID_COMMANDS)]] == PAID_COMMANDS
    return sorted(commands[len(PAID_COMMANDS) :], key=lambda command: command[0])


def release_for_cancellation(booking_id: uuid.UUID) -> tuple[str, dict[str, Any]]:
    return "inventory.cmd.release", {"booking_id": str(booking_id), "reason": "cancelled"}


def refund_for_cancellation(booking_id: uuid.UUID, amount_minor: int) -> tuple[str, dict[str, Any]]:
    return (
        "payments.cmd.refund",
        {
            "booking_id": str(booking_id),
            "amount": {"amount_minor": amount_minor, "currency": CURRENCY},
            "reason": "cancelled",
            "idempotency_key": refund_key(booking_id, "cancelled"),
        },
    )


@pytest.mark.parametrize(
    ("starts_in", "refund_minor"),
    [
        (timedelta(days=10), 2 * FARE),
        (timedelta(hours=24, minutes=5), 2 * FARE),
        (timedelta(hours=23, minutes=55), FARE),
        (timedelta(hours=2, minutes=5), FARE),
    ],
    ids=["days-ahead", "just-over-24h", "just-under-24h", "just-over-2h"],
)
def test_a_confirmed_booking_cancelled_in_time_asks_for_its_refund_by_policy_and_waits(
    desk: SagaDesk, starts_in: timedelta, refund_minor: int
) -> None:
    booking_id = confirmed_booking(desk, starts_in, seats=("1A", "1B"))

    cancelling = desk.cancel(booking_id)

    assert cancelling["status"] == "cancelling"
    assert cancelling["refund_minor"] == refund_minor
    assert (cancelling["awaiting_release"], cancelling["awaiting_refund"]) == (True, True)
    assert cancelling["deadline_at"] is not None
    assert cancelling["cancelled_at"] is None
    assert cancellation_commands(desk, booking_id) == [
        release_for_cancellation(booking_id),
        refund_for_cancellation(booking_id, refund_minor),
    ]
    assert desk.history(booking_id)[-1] == ("confirmed", "cancelling")
    assert desk.events(booking_id)[-1] == "bookings.evt.booking.cancelling"


def test_a_booking_cancelled_less_than_two_hours_before_it_starts_gets_nothing_back(desk: SagaDesk) -> None:
    booking_id = confirmed_booking(desk, timedelta(hours=1, minutes=55))

    cancelling = desk.cancel(booking_id)

    assert cancelling["status"] == "cancelling"
    assert cancelling["refund_minor"] == 0
    assert (cancelling["awaiting_release"], cancelling["awaiting_refund"]) == (True, False)
    assert cancellation_commands(desk, booking_id) == [release_for_cancellation(booking_id)]

    desk.released(booking_id)

    cancelled = desk.booking(booking_id)
    assert cancelled["status"] == "cancelled"
    assert cancelled["refund_minor"] == 0
    assert cancelled["cancelled_at"] is not None
    assert desk.history(booking_id)[-2:] == [("confirmed", "cancelling"), ("cancelling", "cancelled")]


def _release_then_refund(desk: SagaDesk, booking_id: uuid.UUID, amount_minor: int) -> None:
    desk.released(booking_id)
    assert desk.status(booking_id) == "cancelling"
    desk.refunded(booking_id, amount_minor)


def _refund_then_release(desk: SagaDesk, booking_id: uuid.UUID, amount_minor: int) -> None:
    desk.refunded(booking_id, amount_minor)
    assert desk.status(booking_id) == "cancelling"
    desk.released(booking_id)


@pytest.mark.parametrize("settle", [_release_then_refund, _refund_then_release], ids=["release-first", "refund-first"])
def test_a_cancellation_settles_once_both_release_and_refund_have_answered(
    desk: SagaDesk, database_url: str, settle: Callable[[SagaDesk, uuid.UUID, int], None]
) -> None:
    booking_id = confirmed_booking(desk, timedelta(days=3))
    desk.cancel(booking_id)

    settle(desk, booking_id, FARE)

    cancelled = desk.booking(booking_id)
    assert cancelled["status"] == "cancelled"
    assert cancelled["refund_minor"] == FARE
    assert (cancelled["awaiting_release"], cancelled["awaiting_refund"]) == (False, False)
    assert cancelled["cancelled_at"] is not None
    assert cancelled["deadline_at"] is None
    assert cancelled["confirmed_at"] is not None
    assert desk.history(booking_id)[-2:] == [("confirmed", "cancelling"), ("cancelling", "cancelled")]
    assert desk.events(booking_id)[-2:] == ["bookings.evt.booking.cancelling", "bookings.evt.booking.cancelled"]
    [announced] = outbox_payloads(database_url, "bookings.evt.booking.cancelled")
    assert announced["refund"] == {"amount_minor": FARE, "currency": CURRENCY}
    assert len(desk.commands(booking_id)) == len(PAID_COMMANDS) + 2  # no more than the release and the refund


def test_a_partial_refund_is_rounded_down_to_never_exceed_the_policy(desk: SagaDesk) -> None:
    booking_id = desk.place()
    quoted = desk.hold_reserved(booking_id, starts_at=datetime.now(UTC) + timedelta(hours=12))
    odd_price = inr(99_999)
    desk.reply(
        HoldReserved(
            booking_id=booking_id,
            items=[quoted.items[0].model_copy(update={"price": odd_price})],
            total=odd_price,
            expires_at=quoted.expires_at,
        )
    )
    desk.debited(booking_id)
    desk.confirmed(booking_id)

    cancelling = desk.cancel(booking_id)

    assert cancelling["refund_minor"] == 49_999
    assert cancellation_commands(desk, booking_id)[1] == refund_for_cancellation(booking_id, 49_999)


@pytest.fixture
def strict_desk(desk: SagaDesk) -> Iterator[SagaDesk]:
    """A deployment refunding all up to 3 days ahead, a quarter up to 2 days, nothing later."""
    policy = RefundPolicy(full_before=timedelta(days=3), partial_before=timedelta(days=2), partial_percent=25)
    strict = desk.with_rules(refund_policy=policy)
    yield strict
    strict.close()


@pytest.mark.parametrize(
    ("starts_in", "refund_minor"),
    [(timedelta(days=4), 4 * FARE), (timedelta(days=2, hours=12), FARE), (timedelta(days=1), 0)],
    ids=["full", "quarter", "none"],
)
def test_a_deployments_own_refund_policy_decides_the_refund(
    strict_desk: SagaDesk, starts_in: timedelta, refund_minor: int
) -> None:
    booking_id = confirmed_booking(strict_desk, starts_in, seats=("1A", "1B", "1C", "1D"))

    cancelling = strict_desk.cancel(booking_id)

    assert cancelling["refund_minor"] == refund_minor
    refunds = [payload for subject, payload in strict_desk.commands(booking_id) if subject == "payments.cmd.refund"]
    assert [refund["amount"]["amount_minor"] for refund in refunds] == ([refund_minor] if refund_minor else [])


# Cancellation is refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["payment_pending", "confirming", "cancelling", "cancelled", "expired", "failed", "completed"]
)
def test_cancelling_a_booking_being_paid_confirmed_cancelled_or_over_is_refused_and_writes_nothing(
    desk: SagaDesk, status: str
) -> None:
    booking_id = desk.booking_in(status)
    before = desk.snapshot(booking_id)

    with pytest.raises(InvalidTransition):
        desk.cancel(booking_id)

    assert desk.snapshot(booking_id) == before
