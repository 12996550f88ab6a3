"""The cancellation refund policy: everything back far enough ahead, a share closer in, nothing at the last moment;
rounded down, never more than was paid, never negative, and never more the later the customer cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookings.domain.refund_policy import RefundPolicy

DEPARTS = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


def refund(policy: RefundPolicy, paid_minor: int, ahead: timedelta) -> int:
    """What cancelling ``ahead`` of departure gives back of ``paid_minor``."""
    return policy.refund_due(paid_minor, starts_at=DEPARTS, now=DEPARTS - ahead)


# The default policy: 100 % at 24 h or more, 50 % at 2 h or more, nothing closer ----------------------------------


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [
        (timedelta(days=30), 10_000),
        (24 * HOUR + SECOND, 10_000),
        (24 * HOUR, 10_000),
        (24 * HOUR - SECOND, 5_000),
        (12 * HOUR, 5_000),
        (2 * HOUR + SECOND, 5_000),
        (2 * HOUR, 5_000),
        (2 * HOUR - SECOND, 0),
        (SECOND, 0),
        (timedelta(0), 0),
        (-HOUR, 0),  # already departed
    ],
    ids=str,
)
def test_the_default_policy_at_and_around_each_boundary(ahead: timedelta, expected: int) -> None:
    assert refund(RefundPolicy(), 10_000, ahead) == expected


def test_the_default_policy_is_24_hours_2_hours_and_half() -> None:
    policy = RefundPolicy()
    assert policy.full_before == 24 * HOUR
    assert policy.partial_before == 2 * HOUR
    assert policy.partial_percent == 50


def test_the_lead_is_measured_between_instants_not_wall_clocks() -> None:
    # 24 h before 09:30 UTC is 15:00 the day before in India: still a full refund, a second later only half.
    india = DEPARTS.astimezone(timezone(timedelta(hours=5, minutes=30))) - 24 * HOUR
    assert RefundPolicy().refund_due(10_000, starts_at=DEPARTS, now=india) == 10_000
    assert RefundPolicy().refund_due(10_000, starts_at=DEPARTS, now=india + SECOND) == 5_000


@pytest.mark.parametrize(("paid", "expected"), [(1, 0), (3, 1), (999, 499), (10_001, 5_000)])
def test_an_odd_amount_is_rounded_down(paid: int, expected: int) -> None:
    assert refund(RefundPolicy(), paid, 12 * HOUR) == expected


def test_nothing_paid_gives_nothing_back() -> None:
    assert refund(RefundPolicy(), 0, timedelta(days=2)) == 0
    assert refund(RefundPolicy(), 0, 12 * HOUR) == 0


# Custom policies --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [
        (48 * HOUR, 1_003),
        (48 * HOUR - SECOND, 250),  # 25 % of 1,003 is 250.75
        (24 * HOUR, 250),
        (6 * HOUR, 250),
        (6 * HOUR - SECOND, 0),
    ],
    ids=str,
)
def test_a_custom_policy_of_48_hours_6_hours_and_a_quarter(ahead: timedelta, expected: int) -> None:
    policy = RefundPolicy(full_before=48 * HOUR, partial_before=6 * HOUR, partial_percent=25)
    assert refund(policy, 1_003, ahead) == expected


def test_equal_windows_leave_no_partial_refund() -> None:
    policy = RefundPolicy(full_before=24 * HOUR, partial_before=24 * HOUR, partial_percent=50)
    assert refund(policy, 10_000, 24 * HOUR) == 10_000
    assert refund(policy, 10_000, 24 * HOUR - SECOND) == 0


@pytest.mark.parametrize(("percent", "expected"), [(0, 0), (100, 10_000)])
def test_the_partial_share_may_be_nothing_or_everything(percent: int, expected: int) -> None:
    assert refund(RefundPolicy(partial_percent=percent), 10_000, 12 * HOUR) == expected


def test_windows_of_zero_refund_everything_up_to_departure() -> None:
    policy = RefundPolicy(full_before=timedelta(0), partial_before=timedelta(0))
    assert refund(policy, 10_000, timedelta(0)) == 10_000
    assert refund(policy, 10_000, -SECOND) == 0


def test_a_partial_window_longer_than_the_full_one_is_refused() -> None:
    with pytest.raises(ValueError, match="partial refund window"):
        RefundPolicy(full_before=2 * HOUR, partial_before=24 * HOUR)
    with pytest.raises(ValueError, match="partial refund window"):
        RefundPolicy(full_before=24 * HOUR, partial_before=24 * HOUR + SECOND)


@pytest.mark.parametrize("percent", [-1, 101, 1_000])
def test_a_partial_percent_outside_0_to_100_is_refused(percent: int) -> None:
    with pytest.raises(ValueError, match="partial_percent"):
        RefundPolicy(partial_percent=percent)


# Properties -------------------------------------------------------------------------------------------------------

MAX_WINDOW_SECONDS = 365 * 24 * 3600


@st.composite
def policies(draw: st.DrawFn) -> RefundPolicy:
    full = draw(st.integers(min_value=0, max_value=MAX_WINDOW_SECONDS))
    partial = draw(st.integers(min_value=0, max_value=full))
    percent = draw(st.integers(min_value=0, max_value=100))
    return RefundPolicy(timedelta(seconds=full), timedelta(seconds=partial), percent)


amounts = st.integers(min_value=0, max_value=10**15)
leads = st.integers(min_value=-MAX_WINDOW_SECONDS, max_value=2 * MAX_WINDOW_SECONDS).map(
    lambda seconds: timedelta(seconds=seconds)
)


@given(policy=policies(), paid=amounts, ahead=leads)
def test_a_refund_is_never_negative_nor_above_what_was_paid(policy: RefundPolicy, paid: int, ahead: timedelta) -> None:
    assert 0 <= refund(policy, paid, ahead) <= paid


@given(policy=policies(), paid=amounts, ahead=leads)
def test_a_refund_is_all_the_share_or_nothing(policy: RefundPolicy, paid: int, ahead: timedelta) -> None:
    assert refund(policy, paid, ahead) in {paid, paid * policy.partial_percent // 100, 0}


@given(policy=policies(), paid=amounts, earlier=leads, later=leads)
def test_a_refund_never_grows_as_departure_comes_closer(
    policy: RefundPolicy, paid: int, earlier: timedelta, later: timedelta
) -> None:
    earlier, later = max(earlier, later), min(earlier, later)  # earlier: more time ahead of departure
    assert refund(policy, paid, later) <= refund(policy, paid, earlier)


@given(paid=amounts, ahead=leads)
def test_the_default_policy_never_refunds_more_than_half_inside_a_day(paid: int, ahead: timedelta) -> None:
    if ahead < 24 * HOUR:
        assert refund(RefundPolicy(), paid, ahead) <= paid // 2
    else:
        assert refund(RefundPolicy(), paid, ahead) == paid
