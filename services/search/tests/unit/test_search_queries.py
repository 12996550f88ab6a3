"""What search accepts before any SQL runs, and the pure values its queries are built from.

Query strings are validated here exactly as ``parse_query`` does it: a dict of strings (a list for a repeated
parameter) through ``model_validate(params, strict=False)``, so "20" becomes 20 but "twenty" is refused. The
criteria are plain values: city names folded for matching, the nights of a stay, and the ranks keyset pages
are ordered by.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from search.domain.criteria import StayCriteria, place_key
from search.entrypoints.search_schemas import MAX_AMENITY_FILTERS, BusQuery, HotelQuery
from tripline.http.validation import MAX_AMOUNT_MINOR

M = TypeVar("M", bound=BaseModel)

CHECK_IN = date(2026, 12, 1)


def parse(model: type[M], params: dict[str, Any]) -> M:
    """The query string as ``parse_query`` validates it: every value text, lax conversion."""
    return model.model_validate(params, strict=False)


def refusals(model: type[BaseModel], params: dict[str, Any]) -> dict[str, str]:
    """Each refused parameter's dotted location and message; fails the test if the query passes."""
    with pytest.raises(ValidationError) as error:
        parse(model, params)
    return {".".join(str(part) for part in detail["loc"]): detail["msg"] for detail in error.value.errors()}


def stay(**changes: Any) -> dict[str, Any]:
    """A two-night stay in Goa, as the query string sends it."""
    params = {"city": "Goa", "check_in": CHECK_IN.isoformat(), "check_out": (CHECK_IN + timedelta(days=2)).isoformat()}
    return params | changes


def route(**changes: Any) -> dict[str, Any]:
    """Mumbai to Goa on one day, as the query string sends it."""
    return {"origin": "Mumbai", "destination": "Goa", "date": "2026-12-01"} | changes


def nights_after_check_in(count: int) -> str:
    return (CHECK_IN + timedelta(days=count)).isoformat()


# HotelQuery: what is accepted ------------------------------------------------------------------------------------


def test_a_hotel_query_fills_in_the_contracts_defaults() -> None:
    query = parse(HotelQuery, stay())

    assert (query.city, query.check_in, query.check_out) == ("Goa", CHECK_IN, date(2026, 12, 3))
    assert (query.rooms, query.guests, query.sort) == (1, 1, "price")
    assert (query.min_stars, query.max_price_minor, query.amenities) == (None, None, [])
    assert (query.limit, query.cursor) == (20, None)


def test_numbers_in_a_hotel_query_arrive_as_text_and_become_integers() -> None:
    query = parse(
        HotelQuery,
        stay(rooms="2", guests="4", min_stars="3", max_price_minor="1500000", limit="5", sort="stars"),
    )

    assert (query.rooms, query.guests, query.min_stars, query.max_price_minor, query.limit) == (2, 4, 3, 1_500_000, 5)
    assert query.sort == "stars"


def test_the_city_is_kept_as_written_for_the_query_to_fold() -> None:
    assert parse(HotelQuery, stay(city="  goa ")).city == "  goa "


@pytest.mark.parametrize(
    ("amenities", "expected"),
    [
        ("wifi", ["wifi"]),
        ("wifi,pool", ["wifi", "pool"]),
        (["wifi", "pool"], ["wifi", "pool"]),
        (["wifi,pool", "ac"], ["wifi", "pool", "ac"]),
        (" WiFi , Pool ", ["wifi", "pool"]),
        ("wifi,,pool,", ["wifi", "pool"]),
        ("", []),
        ("sea_view,24x7", ["sea_view", "24x7"]),
    ],
    ids=["one", "comma list", "repeated", "both", "case and spaces", "empty tokens", "nothing", "underscore digits"],
)
def test_amenities_come_as_a_comma_list_or_a_repeated_parameter(amenities: Any, expected: list[str]) -> None:
    assert parse(HotelQuery, stay(amenities=amenities)).amenities == expected


def test_as_many_amenities_as_the_filter_allows_are_accepted() -> None:
    tokens = [f"a{n}" for n in range(MAX_AMENITY_FILTERS)]
    assert parse(HotelQuery, stay(amenities=",".join(tokens))).amenities == tokens


@pytest.mark.parametrize("nights", [1, 30])
def test_a_stay_of_one_to_thirty_nights_is_accepted(nights: int) -> None:
    query = parse(HotelQuery, stay(check_out=nights_after_check_in(nights)))
    assert (query.check_out - query.check_in).days == nights


@pytest.mark.parametrize(
    "bounds",
    [
        {"rooms": "1", "guests": "1", "min_stars": "1", "max_price_minor": "0", "limit": "1"},
        {"rooms": "100", "guests": "1000", "min_stars": "5", "max_price_minor": str(MAX_AMOUNT_MINOR), "limit": "100"},
    ],
    ids=["lowest", "highest"],
)
def test_hotel_filters_at_their_bounds_are_accepted(bounds: dict[str, str]) -> None:
    query = parse(HotelQuery, stay(**bounds))
    assert query.model_dump(include=set(bounds)) == {name: int(value) for name, value in bounds.items()}


def test_a_hotel_query_is_immutable() -> None:
    query = parse(HotelQuery, stay())
    with pytest.raises(ValidationError):
        query.rooms = 2  # type: ignore[misc]


# HotelQuery: what is refused -------------------------------------------------------------------------------------


# name: (parameters, where the problem is reported)
REFUSED_STAYS: dict[str, tuple[dict[str, Any], str]] = {
    "city missing": ({key: value for key, value in stay().items() if key != "city"}, "city"),
    "check_in missing": ({key: value for key, value in stay().items() if key != "check_in"}, "check_in"),
    "check_out missing": ({key: value for key, value in stay().items() if key != "check_out"}, "check_out"),
    "city empty": (stay(city=""), "city"),
    "city only spaces": (stay(city="   "), "city"),
    "city too long": (stay(city="G" * 101), "city"),
    "check_in not a date": (stay(check_in="tomorrow"), "check_in"),
    "check_out with a time": (stay(check_out="2026-12-05T00:00:00Z"), "check_out"),
    "check_out an impossible date": (stay(check_out="2026-02-30"), "check_out"),
    "check_out on check_in": (stay(check_out=CHECK_IN.isoformat()), "check_out"),
    "check_out before check_in": (stay(check_out=nights_after_check_in(-1)), "check_out"),
    "31 nights": (stay(check_out=nights_after_check_in(31)), "check_out"),
    "no rooms": (stay(rooms="0"), "rooms"),
    "101 rooms": (stay(rooms="101"), "rooms"),
    "rooms not a number": (stay(rooms="two"), "rooms"),
    "rooms a fraction": (stay(rooms="1.5"), "rooms"),
    "no guests": (stay(guests="0"), "guests"),
    "1001 guests": (stay(guests="1001"), "guests"),
    "no stars": (stay(min_stars="0"), "min_stars"),
    "six stars": (stay(min_stars="6"), "min_stars"),
    "negative price": (stay(max_price_minor="-1"), "max_price_minor"),
    "price beyond any real one": (stay(max_price_minor=str(MAX_AMOUNT_MINOR + 1)), "max_price_minor"),
    "sort by name": (stay(sort="name"), "sort"),
    "sort in capitals": (stay(sort="PRICE"), "sort"),
    "limit 0": (stay(limit="0"), "limit"),
    "limit 101": (stay(limit="101"), "limit"),
    "empty cursor": (stay(cursor=""), "cursor"),
    "cursor too long": (stay(cursor="a" * 1025), "cursor"),
    "unknown parameter": (stay(extra="1"), "extra"),
    "a scalar repeated": (stay(rooms=["1", "2"]), "rooms"),
}


@pytest.mark.parametrize(("params", "where"), list(REFUSED_STAYS.values()), ids=list(REFUSED_STAYS))
def test_a_malformed_hotel_query_is_refused(params: dict[str, Any], where: str) -> None:
    assert where in refusals(HotelQuery, params)


@pytest.mark.parametrize(
    ("amenities", "where"),
    [
        ("Wi Fi!", "amenities.0"),
        ("wifi,pool-side", "amenities.1"),
        (["wifi", "spa!"], "amenities.1"),
        ("x" * 33, "amenities.0"),
    ],
    ids=["space and punctuation", "hyphen", "repeated", "33 characters"],
)
def test_an_amenity_that_is_not_a_token_is_refused_where_it_stands(amenities: Any, where: str) -> None:
    assert "a-z, 0-9 and _" in refusals(HotelQuery, stay(amenities=amenities)).get(where, "")


def test_more_amenities_than_the_filter_allows_are_refused() -> None:
    tokens = ",".join(f"a{n}" for n in range(MAX_AMENITY_FILTERS + 1))
    assert "amenities" in refusals(HotelQuery, stay(amenities=tokens))


def test_a_blank_city_is_refused_as_blank() -> None:
    assert refusals(HotelQuery, stay(city=" \t "))["city"] == "Value error, Must not be blank"


def test_a_stay_out_of_range_says_how_long_a_stay_may_be() -> None:
    assert "1 to 30 nights" in refusals(HotelQuery, stay(check_out=nights_after_check_in(31)))["check_out"]


def test_an_invalid_check_in_is_reported_alone_not_as_a_bad_stay() -> None:
    # With no valid check_in there is no stay to measure: check_out is not blamed for check_in's fault.
    assert set(refusals(HotelQuery, stay(check_in="2026-13-01"))) == {"check_in"}


def test_every_invalid_parameter_is_reported_at_once() -> None:
    assert {"rooms", "guests", "sort", "extra"} <= set(
        refusals(HotelQuery, stay(rooms="0", guests="0", sort="name", extra="1"))
    )


# BusQuery --------------------------------------------------------------------------------------------------------


def test_a_bus_query_fills_in_the_contracts_defaults() -> None:
    query = parse(BusQuery, route())

    assert (query.origin, query.destination, query.date) == ("Mumbai", "Goa", date(2026, 12, 1))
    assert (query.seats, query.sort, query.max_fare_minor, query.bus_type) == (1, "departure", None, None)
    assert (query.limit, query.cursor) == (20, None)


@pytest.mark.parametrize("sort", ["departure", "price", "duration"])
def test_buses_sort_by_departure_price_or_duration(sort: str) -> None:
    assert parse(BusQuery, route(sort=sort)).sort == sort


@pytest.mark.parametrize("bus_type", ["seater", "sleeper", "semi_sleeper"])
def test_buses_filter_by_each_bus_type(bus_type: str) -> None:
    assert parse(BusQuery, route(bus_type=bus_type)).bus_type == bus_type


def test_numbers_in_a_bus_query_arrive_as_text_and_become_integers() -> None:
    query = parse(BusQuery, route(seats="100", max_fare_minor="0", limit="100"))
    assert (query.seats, query.max_fare_minor, query.limit) == (100, 0, 100)


REFUSED_ROUTES: dict[str, tuple[dict[str, Any], str]] = {
    "origin missing": ({key: value for key, value in route().items() if key != "origin"}, "origin"),
    "destination missing": ({key: value for key, value in route().items() if key != "destination"}, "destination"),
    "date missing": ({key: value for key, value in route().items() if key != "date"}, "date"),
    "origin only spaces": (route(origin="  "), "origin"),
    "destination too long": (route(destination="D" * 101), "destination"),
    "date not a date": (route(date="01/12/2026"), "date"),
    "date with a time": (route(date="2026-12-01T23:00:00"), "date"),
    "date as a number": (route(date="20261201"), "date"),
    "no seats": (route(seats="0"), "seats"),
    "101 seats": (route(seats="101"), "seats"),
    "sort by stars": (route(sort="stars"), "sort"),
    "negative fare": (route(max_fare_minor="-1"), "max_fare_minor"),
    "unknown bus type": (route(bus_type="double_decker"), "bus_type"),
    "limit 101": (route(limit="101"), "limit"),
    "unknown parameter": (route(city="Goa"), "city"),
}


@pytest.mark.parametrize(("params", "where"), list(REFUSED_ROUTES.values()), ids=list(REFUSED_ROUTES))
def test_a_malformed_bus_query_is_refused(params: dict[str, Any], where: str) -> None:
    assert where in refusals(BusQuery, params)


# place_key -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Goa", "goa"),
        ("  goa ", "goa"),
        ("New   Delhi", "new delhi"),
        ("\tNEW\nDelhi ", "new delhi"),
        ("Straße", "strasse"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_place_key_ignores_case_and_runs_of_spaces(name: str, key: str) -> None:
    assert place_key(name) == key


plain_words = st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), min_size=1, max_size=4)
spaces = st.text(" \t\n", min_size=1, max_size=4)


@given(name=st.text())
def test_place_key_is_idempotent(name: str) -> None:
    assert place_key(place_key(name)) == place_key(name)


@given(name=st.text())
def test_a_place_key_has_single_spaces_between_words_and_none_around(name: str) -> None:
    key = place_key(name)
    assert key == key.strip()
    assert "  " not in key
    assert key.split() == key.split(" ") or key == ""


@given(parts=plain_words, upper=st.lists(st.booleans(), min_size=4, max_size=4))
def test_place_key_ignores_case(parts: list[str], upper: list[bool]) -> None:
    mixed = [part.upper() if up else part.lower() for part, up in zip(parts, upper, strict=False)]
    assert place_key(" ".join(mixed)) == place_key(" ".join(parts).lower())


@given(parts=plain_words, gaps=st.lists(spaces, min_size=5, max_size=5))
def test_place_key_ignores_how_words_are_spaced(parts: list[str], gaps: list[str]) -> None:
    spaced = gaps[0] + "".join(part + gap for part, gap in zip(parts, gaps[1:], strict=False))
    assert place_key(spaced) == place_key(" ".join(parts))


@given(parts=plain_words)
def test_place_key_keeps_the_words_and_their_order(parts: list[str]) -> None:
    assert place_key(" ".join(parts)).split(" ") == [part.lower() for part in parts]


@given(name=st.text())
def test_a_place_key_is_blank_only_for_a_blank_name(name: str) -> None:
    assert (place_key(name) == "") == (name.strip() == "")


# StayCriteria ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check_in", "check_out", "nights"),
    [
        (date(2026, 12, 1), date(2026, 12, 2), 1),
        (date(2026, 12, 30), date(2027, 1, 2), 3),
        (date(2028, 2, 28), date(2028, 3, 1), 2),
        (date(2027, 2, 28), date(2027, 3, 1), 1),
        (date(2026, 12, 1), date(2026, 12, 31), 30),
    ],
    ids=["one", "across a year", "leap February", "common February", "thirty"],
)
def test_a_stay_lasts_the_nights_between_check_in_and_check_out(check_in: date, check_out: date, nights: int) -> None:
    assert StayCriteria(city="Goa", check_in=check_in, check_out=check_out).nights == nights


@given(check_in=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), nights=st.integers(1, 30))
def test_the_nights_of_a_stay_are_the_days_it_spans(check_in: date, nights: int) -> None:
    criteria = StayCriteria(city="Goa", check_in=check_in, check_out=check_in + timedelta(days=nights))
    assert criteria.nights == nights


def test_stay_criteria_default_to_one_room_for_one_guest_cheapest_first() -> None:
    criteria = StayCriteria(city="Goa", check_in=CHECK_IN, check_out=CHECK_IN + timedelta(days=1))
    assert (criteria.rooms, criteria.guests, criteria.sort, criteria.amenities) == (1, 1, "price", ())
    assert (criteria.min_stars, criteria.max_price_minor) == (None, None)
