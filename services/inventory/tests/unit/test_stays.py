from datetime import date, timedelta

import pytest

from inventory.domain.stays import MAX_NIGHTS, NightRange, allotment_range, available, night_range
from inventory.domain.violations import RulesBroken, Violation

TODAY = date(2026, 12, 1)


def test_a_range_covers_every_night_up_to_but_not_including_its_end() -> None:
    stay = night_range(date(2026, 12, 30), date(2027, 1, 2))
    assert stay.count == 3
    assert stay.nights() == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]


def test_nights_run_through_a_leap_day() -> None:
    assert night_range(date(2028, 2, 28), date(2028, 3, 1)).nights() == [date(2028, 2, 28), date(2028, 2, 29)]


def test_a_single_night_is_a_range() -> None:
    assert night_range(TODAY, TODAY + timedelta(days=1)) == NightRange(TODAY, TODAY + timedelta(days=1))


def test_a_year_of_nights_is_the_longest_range() -> None:
    assert night_range(TODAY, TODAY + timedelta(days=MAX_NIGHTS)).count == MAX_NIGHTS == 366


def test_one_night_more_than_a_year_is_refused_on_to() -> None:
    with pytest.raises(RulesBroken) as refused:
        night_range(TODAY, TODAY + timedelta(days=MAX_NIGHTS + 1))
    assert [v.field for v in refused.value.violations] == ["to"]


@pytest.mark.parametrize("end", [TODAY, TODAY - timedelta(days=1)])
def test_an_end_on_or_before_the_start_is_refused(end: date) -> None:
    with pytest.raises(RulesBroken) as refused:
        night_range(TODAY, end)
    assert refused.value.violations == (Violation("to", "Must be after from"),)


def test_reading_past_nights_is_allowed() -> None:
    assert night_range(TODAY - timedelta(days=10), TODAY).count == 10


def test_an_allotment_may_start_today() -> None:
    assert allotment_range(TODAY, TODAY + timedelta(days=7), today=TODAY).count == 7


def test_an_allotment_starting_yesterday_is_refused_on_from() -> None:
    with pytest.raises(RulesBroken) as refused:
        allotment_range(TODAY - timedelta(days=1), TODAY + timedelta(days=7), today=TODAY)
    assert [v.field for v in refused.value.violations] == ["from"]
    assert "2026-12-01" in refused.value.violations[0].message


def test_an_allotment_both_past_and_reversed_names_both_bounds() -> None:
    with pytest.raises(RulesBroken) as refused:
        allotment_range(TODAY - timedelta(days=1), TODAY - timedelta(days=2), today=TODAY)
    assert [v.field for v in refused.value.violations] == ["from", "to"]


def test_an_allotment_longer_than_a_year_is_refused() -> None:
    with pytest.raises(RulesBroken):
        allotment_range(TODAY, TODAY + timedelta(days=MAX_NIGHTS + 1), today=TODAY)


@pytest.mark.parametrize(("total", "held", "sold", "free"), [(10, 0, 0, 10), (10, 3, 2, 5), (5, 2, 3, 0), (0, 0, 0, 0)])
def test_available_rooms_are_those_neither_held_nor_sold(total: int, held: int, sold: int, free: int) -> None:
    assert available(total, held, sold) == free
