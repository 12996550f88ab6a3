"""Each shape of search is built once; a search's values travel as parameters, never inside the statement."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy.dialects import postgresql

from search.adapters.bus_search import trips_query
from search.adapters.hotel_search import hotels_query
from search.domain.criteria import HotelPosition, StayCriteria, TripCriteria, TripPosition

DAY = date(2026, 12, 1)


def _binds(statement: object) -> set[str]:
    return set(statement.compile(dialect=postgresql.dialect()).params)  # type: ignore[attr-defined]


def test_two_bus_searches_of_one_shape_share_a_statement_and_differ_in_parameters() -> None:
    goa, _ = trips_query(TripCriteria("Goa", "Mumbai", DAY), None, 21)
    pune, parameters = trips_query(TripCriteria("  PUNE ", "Bengaluru", DAY, seats=3), None, 21)

    assert goa is pune
    assert parameters["origin_key"] == "pune"
    assert parameters["seats"] == 3
    assert parameters["day_starts"] == datetime(2026, 12, 1, tzinfo=UTC)
    assert parameters["day_ends"] == datetime(2026, 12, 2, tzinfo=UTC)


def test_a_bus_filter_or_a_later_page_is_another_shape_with_its_own_parameters() -> None:
    plain, _ = trips_query(TripCriteria("Goa", "Mumbai", DAY), None, 21)
    after = TripPosition(100, datetime(2026, 12, 1, 8, tzinfo=UTC), uuid.uuid4())
    filtered, parameters = trips_query(
        TripCriteria("Goa", "Mumbai", DAY, sort="price", max_fare_minor=900, bus_type="sleeper"), after, 21
    )

    assert filtered is not plain
    assert {"max_fare_minor", "bus_type", "after_rank", "after_departs_at", "after_id"} <= _binds(filtered)
    assert set(parameters) <= _binds(filtered)
    assert not {"max_fare_minor", "bus_type", "after_rank"} & _binds(plain)


def test_two_hotel_searches_of_one_shape_share_a_statement() -> None:
    first, _ = hotels_query(StayCriteria("Goa", DAY, date(2026, 12, 3)), None, 21)
    second, parameters = hotels_query(StayCriteria("Pune", DAY, date(2026, 12, 6), rooms=2, guests=3), None, 21)

    assert first is second
    assert {name: parameters[name] for name in ("city_key", "nights", "rooms", "guests")} == {
        "city_key": "pune",
        "nights": 5,
        "rooms": 2,
        "guests": 3,
    }


def test_hotel_filters_left_out_are_neither_in_the_statement_nor_in_its_parameters() -> None:
    plain, plain_parameters = hotels_query(StayCriteria("Goa", DAY, date(2026, 12, 3)), None, 21)
    after = HotelPosition(-4, 12_000, uuid.uuid4())
    filtered, parameters = hotels_query(
        StayCriteria(
            "Goa", DAY, date(2026, 12, 3), sort="stars", min_stars=4, max_price_minor=50_000, amenities=("wifi",)
        ),
        after,
        21,
    )

    assert {"min_stars", "amenities", "max_price_minor", "after_rank"} <= _binds(filtered)
    assert parameters["amenities"] == ["wifi"]
    assert not {"min_stars", "amenities", "max_price_minor", "after_rank"} & (_binds(plain) | set(plain_parameters))
