import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from inventory.domain.holds import (
    HoldStatus,
    Rejection,
    RoomType,
    Schedule,
    ensure_schedule_sellable,
    ensure_stay_sellable,
    is_confirmable,
    nights_of,
    seats_price,
    stay_ends_at,
    stay_price,
    stay_starts_at,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TODAY = NOW.date()
SELLABLE_SCHEDULE = Schedule(status="active", operator_status="approved", departs_at=NOW + timedelta(hours=1))
SELLABLE_ROOMS = RoomType(hotel_id=uuid.uuid4(), hotel_active=True, owner_status="approved", capacity=2)


def test_an_active_future_schedule_of_an_approved_operator_is_sellable() -> None:
    ensure_schedule_sellable(SELLABLE_SCHEDULE, 0, NOW)


@pytest.mark.parametrize(
    "schedule",
    [
        None,
        Schedule(status="active", operator_status="pending", departs_at=NOW + timedelta(hours=1)),
        Schedule(status="active", operator_status="suspended", departs_at=NOW + timedelta(hours=1)),
        Schedule(status="cancelled", operator_status="approved", departs_at=NOW + timedelta(hours=1)),
        Schedule(status="active", operator_status="approved", departs_at=NOW),
    ],
    ids=["unknown", "pending-operator", "suspended-operator", "cancelled", "departing-now"],
)
def test_other_schedules_are_not_sellable(schedule: Schedule | None) -> None:
    with pytest.raises(Rejection) as raised:
        ensure_schedule_sellable(schedule, 2, NOW)
    assert (raised.value.reason, raised.value.item_index) == ("not_sellable", 2)


@pytest.mark.parametrize(
    ("room_type", "check_in", "nights"),
    [
        (None, TODAY, 1),
        (RoomType(hotel_id=1, hotel_active=True, owner_status="rejected", capacity=2), TODAY, 1),
        (RoomType(hotel_id=1, hotel_active=False, owner_status="approved", capacity=2), TODAY, 1),
        (SELLABLE_ROOMS, TODAY - timedelta(days=1), 1),
        (SELLABLE_ROOMS, TODAY, 0),
        (SELLABLE_ROOMS, TODAY, 31),
    ],
    ids=["unknown", "rejected-owner", "inactive-hotel", "past-check-in", "no-night", "too-long"],
)
def test_stays_that_cannot_be_sold(room_type: RoomType | None, check_in: date, nights: int) -> None:
    with pytest.raises(Rejection) as raised:
        ensure_stay_sellable(room_type, check_in, check_in + timedelta(days=nights), 0, TODAY)
    assert raised.value.reason == "not_sellable"


def test_a_stay_of_one_to_thirty_nights_from_today_is_sellable() -> None:
    ensure_stay_sellable(SELLABLE_ROOMS, TODAY, TODAY + timedelta(days=30), 0, TODAY)


def test_nights_of_a_stay_exclude_the_check_out_date() -> None:
    assert nights_of(date(2026, 12, 30), date(2027, 1, 2)) == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]


def test_stays_run_from_afternoon_to_late_morning() -> None:
    assert stay_starts_at(date(2026, 12, 1)) == datetime(2026, 12, 1, 14, tzinfo=UTC)
    assert stay_ends_at(date(2026, 12, 3)) == datetime(2026, 12, 3, 11, tzinfo=UTC)


def test_prices_are_integer_minor_units() -> None:
    assert seats_price(125_000, 3) == 375_000
    assert stay_price([400_000, 450_000], rooms=2) == 1_700_000


def test_a_hold_confirms_until_the_end_of_its_grace_and_not_after() -> None:
    grace = timedelta(seconds=120)
    assert is_confirmable(NOW, grace, NOW + grace)
    assert not is_confirmable(NOW, grace, NOW + grace + timedelta(microseconds=1))


def test_only_held_and_confirmed_holds_own_inventory() -> None:
    assert {status for status in HoldStatus if status.owns_inventory} == {HoldStatus.HELD, HoldStatus.CONFIRMED}
