"""Request parsing: strict JSON bodies, query strings, money and cursors, with client-facing paths."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, ValidationError
from werkzeug.test import TestResponse

from tripline.http.problems import Problem, install_problem_handlers
from tripline.http.validation import (
    ApiModel,
    Money,
    PageQuery,
    decode_cursor,
    encode_cursor,
    ensure_platform_currency,
    field_errors,
    parse_body,
    parse_query,
)

SCHEDULE_ID = "0b7d8a4e-2f55-4d57-9f0b-3c0b1c2f1e11"


class Passenger(ApiModel):
    name: Annotated[str, Field(min_length=1)]
    age: Annotated[int, Field(ge=0, le=130)]


class BusSeats(ApiModel):
    type: Literal["bus_seats"]
    schedule_id: UUID
    seats: Annotated[list[str], Field(min_length=1)]
    passengers: list[Passenger]


class HotelRooms(ApiModel):
    type: Literal["hotel_rooms"]
    check_in: date
    rooms: int


class Payment(ApiModel):
    method: Literal["wallet"]


class CreateBooking(ApiModel):
    items: list[Annotated[BusSeats | HotelRooms, Field(discriminator="type")]]
    payment: Payment | None = None
    note: int | str | None = None


class TopUp(ApiModel):
    amount: Money


class BookingsQuery(PageQuery):
    status: Literal["pending", "reserved"] | None = None
    amenities: list[str] = []


def make_app() -> Flask:
    app = Flask("validation-test")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    install_problem_handlers(app)

    @app.post("/bookings")
    def create_booking() -> dict[str, Any]:
        return parse_body(CreateBooking).model_dump(mode="json")

    @app.post("/top-ups")
    def top_up() -> dict[str, Any]:
        body = parse_body(TopUp)
        ensure_platform_currency(body.amount, "INR")
        return body.model_dump()

    @app.get("/bookings")
    def list_bookings() -> dict[str, Any]:
        return parse_query(BookingsQuery).model_dump()

    return app


def bus_item(**changes: Any) -> dict[str, Any]:
    item = {
        "type": "bus_seats",
        "schedule_id": SCHEDULE_ID,
        "seats": ["1A"],
        "passengers": [{"name": "Asha", "age": 31}],
    }
    return {**item, **changes}


def post(path: str, body: Any) -> TestResponse:
    return make_app().test_client().post(path, json=body)


def errors_of(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    document = response.get_json(force=True)
    assert document["code"] == "validation_failed"
    return {error["field"]: error["message"] for error in document["errors"]}


def test_valid_body_parses_into_the_model() -> None:
    response = post("/bookings", {"items": [bus_item()], "payment": {"method": "wallet"}})

    assert response.status_code == 200
    assert response.get_json()["items"][0]["schedule_id"] == SCHEDULE_ID


def test_nested_list_errors_point_at_the_element() -> None:
    item = bus_item(seats=[], passengers=[{"name": "Asha", "age": 200}])

    errors = errors_of(post("/bookings", {"items": [bus_item(), item]}))

    assert set(errors) == {"items[1].seats", "items[1].passengers[0].age"}


def test_nested_object_errors_use_dotted_paths() -> None:
    errors = errors_of(post("/bookings", {"items": [bus_item()], "payment": {"method": "card"}}))

    assert set(errors) == {"payment.method"}


def test_missing_field_is_named() -> None:
    item = bus_item()
    del item["seats"]

    assert errors_of(post("/bookings", {"items": [item]})) == {"items[0].seats": "Field required"}


def test_unknown_field_is_rejected() -> None:
    errors = errors_of(post("/bookings", {"items": [bus_item(coupon="FREE")], "extra": 1}))

    assert errors == {
        "items[0].coupon": "Extra inputs are not permitted",
        "extra": "Extra inputs are not permitted",
    }


def test_unknown_item_type_points_at_the_discriminator() -> None:
    errors = errors_of(post("/bookings", {"items": [{"type": "boat"}, {"rooms": 1}]}))

    assert set(errors) == {"items[0].type", "items[1].type"}


def test_union_members_never_appear_in_paths_or_messages() -> None:
    errors = errors_of(post("/bookings", {"items": [], "note": [1]}))

    assert set(errors) == {"note"}


def test_messages_do_not_name_internal_classes() -> None:
    errors = errors_of(post("/bookings", {"items": [bus_item(passengers=["Asha"])]}))

    assert errors == {"items[0].passengers[0]": "Input should be an object"}


@pytest.mark.parametrize("seats", ["1", 1.0, True])
def test_numbers_are_strict(seats: Any) -> None:
    item = {"type": "hotel_rooms", "check_in": "2026-12-01", "rooms": seats}

    assert set(errors_of(post("/bookings", {"items": [item]}))) == {"items[0].rooms"}


def test_body_that_is_not_an_object_is_rejected() -> None:
    assert errors_of(post("/bookings", [bus_item()])) == {"body": "Input should be an object"}


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"items": [}'])
def test_malformed_json_is_its_own_problem(raw: bytes) -> None:
    response = make_app().test_client().post("/bookings", data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json(force=True)["code"] == "malformed_json"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_body_must_be_sent_as_json(content_type: str | None) -> None:
    response = make_app().test_client().post("/bookings", data=b"{}", content_type=content_type)

    assert response.status_code == 415
    assert response.get_json(force=True)["code"] == "unsupported_media_type"


def test_json_with_charset_is_accepted() -> None:
    response = (
        make_app()
        .test_client()
        .post("/bookings", data=b'{"items": []}', content_type="application/json; charset=utf-8")
    )

    assert response.status_code == 200


def test_oversized_json_body_is_413() -> None:
    response = post("/bookings", {"items": [], "note": "x" * (64 * 1024)})

    assert response.status_code == 413


@pytest.mark.parametrize(
    "amount",
    [
        {"amount_minor": 1.5, "currency": "INR"},
        {"amount_minor": 100.0, "currency": "INR"},
        {"amount_minor": True, "currency": "INR"},
        {"amount_minor": "100", "currency": "INR"},
        {"amount_minor": -1, "currency": "INR"},
        {"amount_minor": 100, "currency": "inr"},
        {"amount_minor": 100, "currency": "RUPEE"},
        {"amount_minor": 100},
    ],
)
def test_money_rejects_anything_but_a_whole_non_negative_amount_and_iso_code(amount: Any) -> None:
    errors = errors_of(post("/top-ups", {"amount": amount}))

    assert all(field.startswith("amount.") for field in errors)


def test_money_accepts_zero_and_integers() -> None:
    assert Money.model_validate_json('{"amount_minor": 0, "currency": "INR"}').amount_minor == 0
    assert post("/top-ups", {"amount": {"amount_minor": 125000, "currency": "INR"}}).status_code == 200


def test_other_currency_is_unsupported() -> None:
    response = post("/top-ups", {"amount": {"amount_minor": 100, "currency": "USD"}})

    document = response.get_json(force=True)
    assert response.status_code == 400
    assert document["code"] == "unsupported_currency"
    assert document["errors"] == [{"field": "amount.currency", "message": "Currency must be INR"}]


def test_currency_check_names_the_field_it_was_given() -> None:
    with pytest.raises(Problem) as raised:
        ensure_platform_currency(Money(amount_minor=1, currency="EUR"), "INR", field="fare")

    assert raised.value.errors[0].field == "fare.currency"


def test_query_defaults_and_coercion() -> None:
    client = make_app().test_client()

    assert client.get("/bookings").get_json() == {
        "limit": 20,
        "cursor": None,
        "status": None,
        "amenities": [],
    }
    assert client.get("/bookings?limit=5&status=pending").get_json()["limit"] == 5
    assert client.get("/bookings?amenities=wifi&amenities=pool").get_json()["amenities"] == [
        "wifi",
        "pool",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=gone", "status"),
        ("limt=5", "limt"),
        ("limit=5&limit=6", "limit"),
        ("cursor=", "cursor"),
    ],
)
def test_bad_query_parameters_are_named(query: str, field: str) -> None:
    response = make_app().test_client().get(f"/bookings?{query}")

    assert set(errors_of(response)) == {field}


def test_field_errors_without_the_input_follow_pydantics_location() -> None:
    with pytest.raises(ValidationError) as raised:
        CreateBooking.model_validate({"items": [{"type": "hotel_rooms", "check_in": "x", "rooms": 1}]})

    assert [error.field for error in field_errors(raised.value)] == ["items[0].hotel_rooms.check_in"]


positions = st.dictionaries(
    st.text(min_size=1, max_size=20),
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    max_size=6,
)


@given(positions)
def test_cursor_round_trips(position: dict[str, Any]) -> None:
    cursor = encode_cursor(position)

    assert decode_cursor(cursor) == position
    assert PageQuery(cursor=cursor).cursor == cursor


def test_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor({"created_at": "2026-12-01T08:30:00Z", "id": SCHEDULE_ID})

    assert all(c.isalnum() or c in "-_" for c in cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!!",
        "eyJpZCI6",  # truncated JSON
        encode_cursor({"id": 1})[:-3] + "AAA",
        "WzEsMiwzXQ",  # valid JSON, but a list
        "x" * 2000,
        "_w",  # bytes that are not UTF-8
    ],
)
def test_tampered_or_garbage_cursor_is_a_400(cursor: str) -> None:
    with pytest.raises(Problem) as raised:
        decode_cursor(cursor)

    assert raised.value.status == 400
    assert raised.value.code == "invalid_cursor"
    assert raised.value.errors[0].field == "cursor"


def test_models_are_immutable() -> None:
    money = Money(amount_minor=1, currency="INR")

    with pytest.raises(ValidationError):
        money.amount_minor = 2  # type: ignore[misc]
    assert json.loads(money.model_dump_json()) == {"amount_minor": 1, "currency": "INR"}


def test_text_with_a_nul_character_is_a_400_naming_the_field() -> None:
    body = {"items": [bus_item(passengers=[{"name": "As\u0000ha", "age": 31}])], "note": "fine"}

    assert errors_of(post("/bookings", body)) == {"items[0].passengers[0].name": "Text must not contain NUL characters"}


def test_a_nul_in_a_query_parameter_is_a_400() -> None:
    response = make_app().test_client().get("/bookings?status=pend%00ing")

    assert set(errors_of(response)) == {"status"}


def test_an_escaped_backslash_before_u0000_is_ordinary_text() -> None:
    response = post("/bookings", {"items": [bus_item()], "note": "C:\\u0000"})

    assert response.status_code == 200
    assert response.get_json()["note"] == "C:\\u0000"
