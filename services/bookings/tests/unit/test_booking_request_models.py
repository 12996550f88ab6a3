"""What the bookings API accepts before any use case runs: request bodies parsed from JSON exactly as the routes
parse them (strict types, unknown fields refused, the contract's limits on items, seats, passengers, stays, rooms
and guests), query strings parsed as the routes parse them, and the bookings settings read from the environment."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from bookings.config import BookingsSettings, settings_from_env
from bookings.domain.lifecycle import Status
from bookings.domain.refund_policy import RefundPolicy
from bookings.entrypoints.booking_schemas import (
    BookingQuery,
    BusSeatsItem,
    CancelRequest,
    HotelRoomsItem,
    NewBooking,
    PaymentChoice,
    WaitQuery,
)
from tripline.settings import SettingsError

SCHEDULE = "0b7d6c1e-2f43-4a5b-9c8d-7e6f5a4b3c2d"
OTHER_SCHEDULE = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
ROOM_TYPE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

M = TypeVar("M", bound=BaseModel)


def bus_seats(**changes: Any) -> dict[str, Any]:
    item = {
        "type": "bus_seats",
        "schedule_id": SCHEDULE,
        "seats": ["1A", "1B"],
        "passengers": [{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}],
    }
    return item | changes


def hotel_rooms(**changes: Any) -> dict[str, Any]:
    item = {
        "type": "hotel_rooms",
        "room_type_id": ROOM_TYPE,
        "check_in": "2026-12-01",
        "check_out": "2026-12-03",
        "rooms": 1,
        "guests": 2,
    }
    return item | changes


def booking(*items: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {"items": list(items) or [bus_seats(), hotel_rooms()], "payment": {"method": "wallet"}}
    return body | changes


def parse(model: type[M], body: Any) -> M:
    """The body as the API parses it: raw JSON through pydantic's JSON mode."""
    return model.model_validate_json(json.dumps(body))


def refusals(model: type[BaseModel], body: Any) -> dict[str, str]:
    """Each refused field's dotted path ("" for the whole body) and message; fails the test if the body passes."""
    with pytest.raises(ValidationError) as error:
        parse(model, body)
    return {".".join(str(part) for part in detail["loc"]): detail["msg"] for detail in error.value.errors()}


def refused(model: type[BaseModel], body: Any, where: str) -> None:
    """The body is refused, and for the reason meant: a problem is reported at ``where``."""
    assert where in refusals(model, body)


def refused_with(model: type[BaseModel], body: Any, where: str, words: str) -> None:
    """The body is refused at ``where`` with a message saying ``words``."""
    assert words in refusals(model, body).get(where, "")


# NewBooking: what is accepted ------------------------------------------------------------------------------------


def test_the_contracts_example_body_is_accepted() -> None:
    request = parse(NewBooking, booking())
    seats, rooms = request.items
    assert isinstance(seats, BusSeatsItem)
    assert seats.schedule_id == UUID(SCHEDULE)
    assert seats.seats == ["1A", "1B"]
    assert [(passenger.name, passenger.age) for passenger in seats.passengers] == [("Asha", 31), ("Ravi", 33)]
    assert isinstance(rooms, HotelRoomsItem)
    assert (rooms.check_in, rooms.check_out, rooms.rooms, rooms.guests) == (date(2026, 12, 1), date(2026, 12, 3), 1, 2)
    assert request.payment == PaymentChoice(method="wallet")


@pytest.mark.parametrize("payment", [{}, {"payment": None}], ids=["absent", "null"])
def test_payment_is_optional(payment: dict[str, Any]) -> None:
    body = {"items": [hotel_rooms()]} | payment
    assert parse(NewBooking, body).payment is None


@pytest.mark.parametrize("count", [1, 5])
def test_one_to_five_items_are_accepted(count: int) -> None:
    items = [bus_seats(seats=[f"{n}A"], passengers=[{"name": "Asha", "age": 31}]) for n in range(count)]
    assert len(parse(NewBooking, booking(*items)).items) == count


def test_the_same_seat_on_two_different_schedules_is_two_seats() -> None:
    request = parse(NewBooking, booking(bus_seats(), bus_seats(schedule_id=OTHER_SCHEDULE)))
    assert len(request.items) == 2


def test_a_stay_of_exactly_30_nights_is_accepted() -> None:
    check_out = (date(2026, 12, 1) + timedelta(days=30)).isoformat()
    assert parse(HotelRoomsItem, hotel_rooms(check_out=check_out)).check_out == date(2026, 12, 31)


def test_a_one_night_stay_is_accepted() -> None:
    assert parse(HotelRoomsItem, hotel_rooms(check_out="2026-12-02")).check_out == date(2026, 12, 2)


@pytest.mark.parametrize(("rooms", "guests"), [(1, 1), (100, 1_000)])
def test_rooms_and_guests_at_their_bounds_are_accepted(rooms: int, guests: int) -> None:
    item = parse(HotelRoomsItem, hotel_rooms(rooms=rooms, guests=guests))
    assert (item.rooms, item.guests) == (rooms, guests)


def test_a_passenger_name_is_trimmed() -> None:
    item = parse(BusSeatsItem, bus_seats(seats=["1A"], passengers=[{"name": "  Asha ", "age": 0}]))
    assert item.passengers[0].name == "Asha"


# NewBooking: what is refused --------------------------------------------------------------------------------------


def inside_a_booking(item_type: str, where: str) -> str:
    """Where a problem of the booking's first item is reported: under the item and its type."""
    return ".".join(part for part in ("items.0", item_type, where) if part)


def six_items() -> dict[str, Any]:
    return booking(*[bus_seats(seats=[f"{n}A"], passengers=[{"name": "Asha", "age": 31}]) for n in range(6)])


# name: (body, where the problem is reported)
REFUSED_BOOKINGS: dict[str, tuple[Any, str]] = {
    "no items": (booking(items=[]), "items"),
    "six items": (six_items(), "items"),
    "items missing": ({"payment": {"method": "wallet"}}, "items"),
    "items not a list": (booking(items=bus_seats()), "items"),
    "unknown top-level field": (booking(coupon="FREE"), "coupon"),
    "unknown field in a bus item": (booking(bus_seats(fare_minor=1)), "items.0.bus_seats.fare_minor"),
    "unknown field in a hotel item": (booking(hotel_rooms(breakfast=True)), "items.0.hotel_rooms.breakfast"),
    "unknown field in a passenger": (
        booking(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31, "x": 1}])),
        "items.0.bus_seats.passengers.0.x",
    ),
    "unknown item type": (booking({**bus_seats(), "type": "train_seats"}), "items.0"),
    "item without a type": (booking({key: value for key, value in bus_seats().items() if key != "type"}), "items.0"),
    "payment by card": (booking(payment={"method": "card"}), "payment.method"),
    "payment method in capitals": (booking(payment={"method": "WALLET"}), "payment.method"),
    "payment without a method": (booking(payment={}), "payment.method"),
    "payment with an extra field": (booking(payment={"method": "wallet", "card": "4111"}), "payment.card"),
    "not a JSON object": ([bus_seats()], ""),
}


@pytest.mark.parametrize(("body", "where"), list(REFUSED_BOOKINGS.values()), ids=list(REFUSED_BOOKINGS))
def test_a_malformed_booking_is_refused(body: Any, where: str) -> None:
    refused(NewBooking, body, where)


def test_a_seat_asked_for_twice_across_items_is_named_where_it_repeats() -> None:
    body = booking(
        bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31}]),
        bus_seats(seats=["2A", "1A"]),
    )

    twice = parse(NewBooking, body).seat_asked_twice()

    assert twice is not None
    assert twice.field == "items[1].seats"
    assert "earlier item" in twice.message


def test_the_same_seat_label_on_two_schedules_is_two_seats() -> None:
    body = booking(
        bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31}]),
        bus_seats(schedule_id=str(uuid.uuid4()), seats=["1A"], passengers=[{"name": "Ravi", "age": 33}]),
    )

    assert parse(NewBooking, body).seat_asked_twice() is None


REFUSED_BUS_ITEMS: dict[str, tuple[dict[str, Any], str]] = {
    "no seats": (bus_seats(seats=[], passengers=[]), "seats"),
    "seat named twice": (bus_seats(seats=["1A", "1A"]), "seats"),
    "fewer passengers than seats": (bus_seats(passengers=[{"name": "Asha", "age": 31}]), "passengers"),
    "more passengers than seats": (bus_seats(seats=["1A"]), "passengers"),
    "empty seat name": (bus_seats(seats=["", "1B"]), "seats.0"),
    "seat name of nine characters": (bus_seats(seats=["123456789", "1B"]), "seats.0"),
    "101 seats": (
        bus_seats(seats=[f"S{n}" for n in range(101)], passengers=[{"name": "Asha", "age": 31} for _ in range(101)]),
        "seats",
    ),
    "seat as a number": (bus_seats(seats=[1, "1B"]), "seats.0"),
    "bad schedule uuid": (bus_seats(schedule_id="not-a-uuid"), "schedule_id"),
    "truncated schedule uuid": (bus_seats(schedule_id=SCHEDULE[:-1]), "schedule_id"),
    "schedule uuid as a number": (bus_seats(schedule_id=123), "schedule_id"),
    "schedule missing": ({key: value for key, value in bus_seats().items() if key != "schedule_id"}, "schedule_id"),
    "age as a string": (bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": "31"}]), "passengers.0.age"),
    "age as a float": (bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31.0}]), "passengers.0.age"),
    "age as a boolean": (bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": True}]), "passengers.0.age"),
    "negative age": (bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": -1}]), "passengers.0.age"),
    "age 131": (bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 131}]), "passengers.0.age"),
    "blank name": (bus_seats(seats=["1A"], passengers=[{"name": "   ", "age": 31}]), "passengers.0.name"),
    "name of 101 characters": (
        bus_seats(seats=["1A"], passengers=[{"name": "A" * 101, "age": 31}]),
        "passengers.0.name",
    ),
    "passenger without a name": (bus_seats(seats=["1A"], passengers=[{"age": 31}]), "passengers.0.name"),
}


@pytest.mark.parametrize(("item", "where"), list(REFUSED_BUS_ITEMS.values()), ids=list(REFUSED_BUS_ITEMS))
def test_a_malformed_bus_item_is_refused_alone_and_inside_a_booking(item: dict[str, Any], where: str) -> None:
    refused(BusSeatsItem, item, where)
    refused(NewBooking, booking(item), inside_a_booking("bus_seats", where))


def test_a_seat_named_twice_says_so() -> None:
    refused_with(BusSeatsItem, REFUSED_BUS_ITEMS["seat named twice"][0], "seats", "a seat is named twice")


@pytest.mark.parametrize("name", ["fewer passengers than seats", "more passengers than seats"])
def test_a_passenger_count_other_than_the_seat_count_says_so(name: str) -> None:
    refused_with(BusSeatsItem, REFUSED_BUS_ITEMS[name][0], "passengers", "one passenger per seat")


REFUSED_HOTEL_ITEMS: dict[str, tuple[dict[str, Any], str]] = {
    "check-out on check-in": (hotel_rooms(check_out="2026-12-01"), "check_out"),
    "check-out before check-in": (hotel_rooms(check_out="2026-11-30"), "check_out"),
    "31 nights": (hotel_rooms(check_out=(date(2026, 12, 1) + timedelta(days=31)).isoformat()), "check_out"),
    "a year": (hotel_rooms(check_out="2027-12-01"), "check_out"),
    "no rooms": (hotel_rooms(rooms=0), "rooms"),
    "101 rooms": (hotel_rooms(rooms=101), "rooms"),
    "negative rooms": (hotel_rooms(rooms=-1), "rooms"),
    "no guests": (hotel_rooms(guests=0), "guests"),
    "1001 guests": (hotel_rooms(guests=1_001), "guests"),
    "rooms as a string": (hotel_rooms(rooms="2"), "rooms"),
    "guests as a string": (hotel_rooms(guests="2"), "guests"),
    "rooms as a float": (hotel_rooms(rooms=1.0), "rooms"),
    "guests as a fraction": (hotel_rooms(guests=1.5), "guests"),
    "rooms as a boolean": (hotel_rooms(rooms=True), "rooms"),
    "guests as a boolean": (hotel_rooms(guests=True), "guests"),
    "rooms null": (hotel_rooms(rooms=None), "rooms"),
    "bad room type uuid": (hotel_rooms(room_type_id="room-1"), "room_type_id"),
    "room type uuid as a number": (hotel_rooms(room_type_id=42), "room_type_id"),
    "month 13": (hotel_rooms(check_in="2026-13-01"), "check_in"),
    "30 February": (hotel_rooms(check_in="2026-02-30", check_out="2026-03-02"), "check_in"),
    "day-first date": (hotel_rooms(check_in="01/12/2026"), "check_in"),
    "date as a word": (hotel_rooms(check_out="tomorrow"), "check_out"),
    "date with a time": (hotel_rooms(check_in="2026-12-01T10:00:00"), "check_in"),
    "date as a number": (hotel_rooms(check_in=20261201), "check_in"),
    "empty date": (hotel_rooms(check_out=""), "check_out"),
    "check-in missing": ({key: value for key, value in hotel_rooms().items() if key != "check_in"}, "check_in"),
}


@pytest.mark.parametrize(("item", "where"), list(REFUSED_HOTEL_ITEMS.values()), ids=list(REFUSED_HOTEL_ITEMS))
def test_a_malformed_hotel_item_is_refused_alone_and_inside_a_booking(item: dict[str, Any], where: str) -> None:
    refused(HotelRoomsItem, item, where)
    refused(NewBooking, booking(item), inside_a_booking("hotel_rooms", where))


@pytest.mark.parametrize("name", ["check-out on check-in", "check-out before check-in"])
def test_a_stay_that_ends_before_it_starts_says_so(name: str) -> None:
    refused_with(HotelRoomsItem, REFUSED_HOTEL_ITEMS[name][0], "check_out", "check_out must be after check_in")


@pytest.mark.parametrize("name", ["31 nights", "a year"])
def test_a_stay_beyond_30_nights_says_so(name: str) -> None:
    refused_with(HotelRoomsItem, REFUSED_HOTEL_ITEMS[name][0], "check_out", "at most 30 nights")


# Paying and cancelling --------------------------------------------------------------------------------------------


def test_paying_accepts_the_wallet() -> None:
    assert parse(PaymentChoice, {"method": "wallet"}).method == "wallet"


@pytest.mark.parametrize(
    "body",
    [{}, {"method": "card"}, {"method": ""}, {"method": None}, {"method": "wallet", "amount": 100}, "wallet"],
    ids=["empty", "card", "blank", "null", "extra field", "bare string"],
)
def test_paying_refuses_anything_but_the_wallet(body: Any) -> None:
    assert refusals(PaymentChoice, body)


def test_a_cancellation_without_a_reason_says_so() -> None:
    assert parse(CancelRequest, {}).reason == "not given"


def test_a_cancellation_reason_is_trimmed() -> None:
    assert parse(CancelRequest, {"reason": "  plans changed  "}).reason == "plans changed"


def test_a_reason_of_500_characters_is_accepted() -> None:
    assert len(parse(CancelRequest, {"reason": "x" * 500}).reason) == 500


@pytest.mark.parametrize(
    "body",
    [{"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": 42}, {"reason": None}, {"why": "late"}],
    ids=["empty", "blank", "501 characters", "number", "null", "unknown field"],
)
def test_a_cancellation_with_a_bad_reason_is_refused(body: dict[str, Any]) -> None:
    assert refusals(CancelRequest, body)


# Query strings: every value arrives as text, so the routes parse them leniently ----------------------------------


def query(model: type[M], params: dict[str, str]) -> M:
    """The query string as the API parses it: strings, lax mode."""
    return model.model_validate(params, strict=False)


def refused_query(model: type[BaseModel], params: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        query(model, params)


@pytest.mark.parametrize(
    ("params", "seconds"), [({}, 0), ({"wait": "0"}, 0), ({"wait": "2.5"}, 2.5), ({"wait": "30"}, 30)]
)
def test_waiting_up_to_30_seconds_is_accepted(params: dict[str, str], seconds: float) -> None:
    assert query(WaitQuery, params).wait == seconds


@pytest.mark.parametrize("params", [{"wait": "-1"}, {"wait": "30.5"}, {"wait": "soon"}, {"wait": ""}, {"timeout": "5"}])
def test_a_bad_wait_is_refused(params: dict[str, str]) -> None:
    refused_query(WaitQuery, params)


def test_listing_bookings_has_defaults() -> None:
    listing = query(BookingQuery, {})
    assert (listing.limit, listing.cursor, listing.status, listing.customer_id) == (20, None, None, None)
    assert (listing.include_deleted, listing.stuck) == (False, False)


def test_listing_bookings_reads_every_filter() -> None:
    listing = query(
        BookingQuery,
        {
            "status": "payment_pending",
            "limit": "100",
            "cursor": "abc",
            "customer_id": "asha",
            "include_deleted": "true",
            "stuck": "1",
        },
    )
    assert listing.status is Status.PAYMENT_PENDING
    assert (listing.limit, listing.cursor, listing.customer_id) == (100, "abc", "asha")
    assert listing.include_deleted is True
    assert listing.stuck is True


@pytest.mark.parametrize(
    "params",
    [
        {"status": "paid"},
        {"status": "RESERVED"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"cursor": ""},
        {"customer_id": ""},
        {"customer_id": "a" * 65},
        {"include_deleted": "maybe"},
        {"stuck": "2"},
        {"sort": "newest"},
    ],
    ids=str,
)
def test_a_bad_listing_query_is_refused(params: dict[str, str]) -> None:
    refused_query(BookingQuery, params)


# Settings ---------------------------------------------------------------------------------------------------------

DATABASE_URL = "postgresql://tripline@localhost:5432/bookings"
BOOKING_VARIABLES = (
    "BOOKING_HOLD_TTL_SECONDS",
    "BOOKING_STEP_TIMEOUT_SECONDS",
    "BOOKING_TIMER_SECONDS",
    "BOOKING_FULL_REFUND_HOURS",
    "BOOKING_PARTIAL_REFUND_HOURS",
    "BOOKING_PARTIAL_REFUND_PERCENT",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment holding only the database URL, whatever the shell running the tests exports."""
    for variable in BOOKING_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("BOOKINGS_DATABASE_URL", DATABASE_URL)
    return monkeypatch


@pytest.mark.usefixtures("environment")
def test_settings_have_the_documented_defaults() -> None:
    settings = BookingsSettings()
    assert settings.hold_ttl_seconds == 600
    assert settings.step_timeout_seconds == 60
    assert settings.timer_seconds == 1
    assert (settings.full_refund_hours, settings.partial_refund_hours, settings.partial_refund_percent) == (24, 2, 50)
    assert settings.refund_policy == RefundPolicy()
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://tripline@localhost:5432/bookings"


def test_settings_are_read_from_the_booking_variables(environment: pytest.MonkeyPatch) -> None:
    values = {
        "BOOKING_HOLD_TTL_SECONDS": "900",
        "BOOKING_STEP_TIMEOUT_SECONDS": "15",
        "BOOKING_TIMER_SECONDS": "0.5",
        "BOOKING_FULL_REFUND_HOURS": "48",
        "BOOKING_PARTIAL_REFUND_HOURS": "6",
        "BOOKING_PARTIAL_REFUND_PERCENT": "25",
    }
    for variable, value in values.items():
        environment.setenv(variable, value)
    settings = settings_from_env()
    assert (settings.hold_ttl_seconds, settings.step_timeout_seconds, settings.timer_seconds) == (900, 15, 0.5)
    assert settings.refund_policy == RefundPolicy(
        full_before=timedelta(hours=48), partial_before=timedelta(hours=6), partial_percent=25
    )


def test_the_refund_policy_takes_fractions_of_an_hour(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("BOOKING_FULL_REFUND_HOURS", "1.5")
    environment.setenv("BOOKING_PARTIAL_REFUND_HOURS", "0.25")
    policy = BookingsSettings().refund_policy
    assert (policy.full_before, policy.partial_before) == (timedelta(minutes=90), timedelta(minutes=15))


def test_equal_refund_windows_are_allowed(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("BOOKING_FULL_REFUND_HOURS", "12")
    environment.setenv("BOOKING_PARTIAL_REFUND_HOURS", "12")
    assert BookingsSettings().refund_policy.partial_before == timedelta(hours=12)


def test_a_partial_refund_window_longer_than_the_full_one_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("BOOKING_FULL_REFUND_HOURS", "2")
    environment.setenv("BOOKING_PARTIAL_REFUND_HOURS", "24")
    with pytest.raises(SettingsError, match="BOOKING_PARTIAL_REFUND_HOURS"):
        settings_from_env()


def test_keyword_settings_are_checked_the_same_way() -> None:
    with pytest.raises(ValidationError, match="BOOKING_PARTIAL_REFUND_HOURS"):
        BookingsSettings(database_url=DATABASE_URL, full_refund_hours=1, partial_refund_hours=3)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOOKING_HOLD_TTL_SECONDS", "9"),
        ("BOOKING_HOLD_TTL_SECONDS", "86401"),
        ("BOOKING_HOLD_TTL_SECONDS", "ten minutes"),
        ("BOOKING_STEP_TIMEOUT_SECONDS", "0.5"),
        ("BOOKING_TIMER_SECONDS", "0"),
        ("BOOKING_FULL_REFUND_HOURS", "-1"),
        ("BOOKING_PARTIAL_REFUND_HOURS", "-1"),
        ("BOOKING_PARTIAL_REFUND_PERCENT", "101"),
        ("BOOKING_PARTIAL_REFUND_PERCENT", "-1"),
        ("BOOKING_PARTIAL_REFUND_PERCENT", "12.5"),
    ],
    ids=str,
)
def test_an_out_of_range_setting_is_refused_by_its_variable_name(
    environment: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    environment.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        settings_from_env()
