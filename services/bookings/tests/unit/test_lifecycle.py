"""The booking lifecycle: every status takes exactly the events the contract allows and goes where it says, each
transition stamps the timestamp the booking response shows, and no booking can get stuck with no way forward."""

from __future__ import annotations

import itertools

import pytest

from bookings.domain.lifecycle import (
    TRANSITIONS,
    Event,
    InvalidTransition,
    Status,
    next_status,
    stamp_for,
)

# Written out by hand from the contract, not derived from TRANSITIONS: a change to the table must fail here.
EXPECTED: dict[tuple[Status, Event], Status] = {
    (Status.PENDING, Event.HOLD_RESERVED): Status.RESERVED,
    (Status.PENDING, Event.HOLD_REJECTED): Status.FAILED,
    (Status.PENDING, Event.CANCEL): Status.CANCELLED,
    (Status.RESERVED, Event.PAY): Status.PAYMENT_PENDING,
    (Status.RESERVED, Event.EXPIRE): Status.EXPIRED,
    (Status.RESERVED, Event.CANCEL): Status.CANCELLED,
    (Status.PAYMENT_PENDING, Event.DEBIT_SUCCEEDED): Status.CONFIRMING,
    # A declined payment returns the booking to reserved: the customer may top up and pay again.
    (Status.PAYMENT_PENDING, Event.DEBIT_DECLINED): Status.RESERVED,
    (Status.CONFIRMING, Event.HOLD_CONFIRMED): Status.CONFIRMED,
    (Status.CONFIRMING, Event.HOLD_CONFIRM_REJECTED): Status.FAILED,
    (Status.PAYMENT_PENDING, Event.ABANDON): Status.FAILED,
    (Status.CONFIRMING, Event.ABANDON): Status.FAILED,
    (Status.CONFIRMED, Event.COMPLETE): Status.COMPLETED,
    (Status.CONFIRMED, Event.CANCEL): Status.CANCELLING,
    (Status.CANCELLING, Event.CANCELLATION_SETTLED): Status.CANCELLED,
    (Status.COMPLETED, Event.DELETE): Status.COMPLETED,
    (Status.CANCELLED, Event.DELETE): Status.CANCELLED,
    (Status.EXPIRED, Event.DELETE): Status.EXPIRED,
    (Status.FAILED, Event.DELETE): Status.FAILED,
}

# The Booking response's timestamp for each status (api.md); confirming and cancelling have none.
EXPECTED_STAMPS: dict[Status, str | None] = {
    Status.PENDING: "created_at",
    Status.RESERVED: "reserved_at",
    Status.PAYMENT_PENDING: "payment_requested_at",
    Status.CONFIRMING: None,
    Status.CONFIRMED: "confirmed_at",
    Status.COMPLETED: "completed_at",
    Status.CANCELLING: None,
    Status.CANCELLED: "cancelled_at",
    Status.EXPIRED: "expired_at",
    Status.FAILED: "failed_at",
}

TRANSITIONAL = {Status.PENDING, Status.PAYMENT_PENDING, Status.CONFIRMING, Status.CANCELLING}
TERMINAL = {Status.COMPLETED, Status.CANCELLED, Status.EXPIRED, Status.FAILED}

EVERY_PAIR = list(itertools.product(Status, Event))
LEGAL = [pair for pair in EVERY_PAIR if pair in EXPECTED]
ILLEGAL = [pair for pair in EVERY_PAIR if pair not in EXPECTED]


def pair_id(pair: tuple[Status, Event]) -> str:
    status, event = pair
    return f"{status.value}+{event.value}"


# The table ------------------------------------------------------------------------------------------------------


def test_the_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("pair", LEGAL, ids=pair_id)
def test_a_legal_event_moves_the_booking_to_its_target(pair: tuple[Status, Event]) -> None:
    status, event = pair
    assert next_status(status, event) is EXPECTED[pair]


@pytest.mark.parametrize("pair", ILLEGAL, ids=pair_id)
def test_an_illegal_event_is_refused_naming_the_status_and_the_event(pair: tuple[Status, Event]) -> None:
    status, event = pair
    with pytest.raises(InvalidTransition) as refused:
        next_status(status, event)
    assert refused.value.current is status
    assert refused.value.event is event
    # The message is what an operator reads in a log: it must say which booking state refused which event.
    assert status.value in str(refused.value)
    assert event.value in str(refused.value)


def test_every_pair_is_either_legal_or_refused() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(Status) * len(Event)
    assert len(LEGAL) == 19


# Timestamps -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_entering_a_status_stamps_its_own_timestamp(status: Status) -> None:
    # Any event but delete: the stamp depends on where the booking goes, not on what took it there.
    assert stamp_for(Event.HOLD_RESERVED, status) == EXPECTED_STAMPS[status]


@pytest.mark.parametrize("pair", LEGAL, ids=pair_id)
def test_every_legal_transition_stamps_its_targets_timestamp_or_deleted_at(pair: tuple[Status, Event]) -> None:
    _, event = pair
    target = EXPECTED[pair]
    expected = "deleted_at" if event is Event.DELETE else EXPECTED_STAMPS[target]
    assert stamp_for(event, target) == expected


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
def test_deleting_stamps_deleted_at_not_the_status_timestamp(status: Status) -> None:
    assert stamp_for(Event.DELETE, status) == "deleted_at"


@pytest.mark.parametrize(
    ("event", "status"), [(Event.DEBIT_SUCCEEDED, Status.CONFIRMING), (Event.CANCEL, Status.CANCELLING)], ids=str
)
def test_waiting_to_confirm_or_to_settle_a_cancellation_stamps_nothing(event: Event, status: Status) -> None:
    # The response has no confirming_at or cancelling_at; the history records when these were entered.
    assert stamp_for(event, status) is None


# Kinds of status ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_transitional_statuses_are_those_the_contract_names(status: Status) -> None:
    assert status.is_transitional is (status in TRANSITIONAL)


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_terminal_statuses_are_completed_cancelled_expired_and_failed(status: Status) -> None:
    assert status.is_terminal is (status in TERMINAL)


def test_no_status_is_both_waiting_and_over() -> None:
    assert not any(status.is_transitional and status.is_terminal for status in Status)


# Ways forward ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [status for status in Status if status not in TERMINAL], ids=str)
def test_every_status_that_is_not_over_has_a_way_to_another_status(status: Status) -> None:
    targets = {next_status(status, event) for event in Event if (status, event) in TRANSITIONS}
    assert targets - {status}


@pytest.mark.parametrize("status", [status for status in Status if status not in TERMINAL], ids=str)
def test_every_status_that_is_not_over_can_reach_an_end(status: Status) -> None:
    reached = {status}
    frontier = [status]
    while frontier:
        current = frontier.pop()
        for event in Event:
            if (current, event) in TRANSITIONS and (target := next_status(current, event)) not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached & TERMINAL


@pytest.mark.parametrize("status", sorted(TRANSITIONAL), ids=str)
def test_a_waiting_booking_leaves_its_status_on_some_reply(status: Status) -> None:
    # A transitional booking waits for another service; some event must take it out, or it is stuck for good.
    assert any(next_status(status, event) is not status for event in Event if (status, event) in TRANSITIONS)


# Deleting and the end -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_delete_is_legal_only_once_a_booking_is_over_and_keeps_its_status(status: Status) -> None:
    if status in TERMINAL:
        assert next_status(status, Event.DELETE) is status
    else:
        with pytest.raises(InvalidTransition):
            next_status(status, Event.DELETE)


@pytest.mark.parametrize(
    ("status", "event"),
    [(status, event) for status in sorted(TERMINAL) for event in Event if event is not Event.DELETE],
    ids=str,
)
def test_a_booking_that_is_over_takes_no_other_event(status: Status, event: Event) -> None:
    with pytest.raises(InvalidTransition):
        next_status(status, event)
