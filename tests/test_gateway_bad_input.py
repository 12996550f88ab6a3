"""Bad input through the gateway: each request answered with the contract's problem details, and nothing written.

One whole platform for the module (no request here may change anything, so none needs a clean one): a little on
sale, one booking, then requests no well-behaved client sends, as raw HTTP. Each answer is problem+json with its
status, code and (for invalid fields) the field, carries an X-Request-ID and gives no server internals away; every
table's row count and every stream's messages are the same after it as before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import requests

from tripline.auth.tokens import issue_dev_token

from .bad_requests import (
    RAVI,
    Bad,
    Endpoint,
    Target,
    assert_problem,
    booking,
    case,
    changes,
    claims,
    credit,
    footprint,
    forged_token,
    new_bus,
    new_hotel,
    new_schedule,
    nights,
    nights_with,
    put_on_sale,
    read,
    room_item,
    schedule_with,
    seat_item,
    top_up,
    with_rooms,
    with_seats,
)
from .platform import SERVICES, clean_platform
from .whole_platform import start_whole_platform

LIMIT = 64 * 1024
MALFORMED, MEDIA = "malformed_json", "unsupported_media_type"
INVALID, FOREIGN = "validation_failed", "unsupported_currency"
NOT_FOUND, FORBIDDEN = "not_found", "forbidden"


@pytest.fixture(scope="module")
def target(provisioned: dict[str, str], nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The whole platform behind its gateway, started as the ``platform`` fixture starts it, kept for the module."""
    platform = clean_platform(provisioned, nats_url, Path(tmp_path_factory.mktemp("bad-input")))
    try:
        whole = start_whole_platform(platform)
        supply = put_on_sale(whole)
        platform.wait_until_quiet(SERVICES, what="the supply published and projected")
        yield Target(whole.gateway, platform, supply)
    finally:
        platform.stop_all()


def refused(target: Target, bad: Bad) -> requests.Response:
    """Send the bad request: its answer is the problem expected, and every count stays as it was."""
    assert bad.field_name or bad.code != INVALID, "a validation error must name its field"
    before = footprint(target.platform)
    response = bad.send(target.gateway, target.supply)
    assert_problem(response, bad.status, bad.code, bad.field_name)
    kept = {}
    if bad.keeps_answer_in is not None:
        remembered = f"{bad.keeps_answer_in}.idempotency_requests"
        kept = {remembered: (before[remembered], before[remembered] + 1)}
    assert changes(before, footprint(target.platform)) == kept
    return response


BOOKINGS = Endpoint("POST", "/v1/bookings", "booking", {"by": "asha", "key": True})
PAY = Endpoint("POST", "/v1/bookings/{booking_id}/pay", "pay", {"by": "asha", "key": True})
CANCEL = Endpoint("POST", "/v1/bookings/{booking_id}/cancel", "cancel", {"by": "asha", "key": True})
TOP_UPS = Endpoint("POST", "/v1/wallets/me/top-ups", "top-up", {"by": "asha", "key": True})
CREDITS = Endpoint("POST", "/v1/wallets/asha/credits", "credit", {"by": "ops", "key": True})
OPERATORS = Endpoint("POST", "/v1/operators", "operator", {"by": "newcomer"})
BUSES = Endpoint("POST", "/v1/buses", "bus", {"by": "konkan"})
SCHEDULES = Endpoint("POST", "/v1/schedules", "schedule", {"by": "konkan"})
HOTELS = Endpoint("POST", "/v1/hotels", "hotel", {"by": "seaside"})
HOTEL = Endpoint("PATCH", "/v1/hotels/{hotel_id}", "hotel-changes", {"by": "seaside"})
ROOM_TYPES = Endpoint("POST", "/v1/hotels/{hotel_id}/room-types", "room-type", {"by": "seaside"})
NIGHTS = Endpoint("PUT", "/v1/room-types/{room_type_id}/nights", "nights", {"by": "seaside"})
REVIEWS = Endpoint("POST", "/v1/operators/{other_operator_id}/approve", "review", {"by": "ops"})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


NUL_AND_DEEP = f'{{"a": "\\u0000", "b": {nested(30_000)}}}'


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.refuses("truncated", 400, MALFORMED, raw='{"items": [{"type": "bus_seats"'),
        TOP_UPS.refuses("form-encoded-labelled-json", 400, MALFORMED, raw="amount=500&currency=INR"),
        SCHEDULES.refuses("single-quotes", 400, MALFORMED, raw="{'bus_id': 1}"),
        NIGHTS.refuses("trailing-comma", 400, MALFORMED, raw='{"from": "2027-01-01",}'),
        TOP_UPS.refuses("not-utf8", 400, MALFORMED, raw=b'{"amount": "\xff\xfe"}'),
        BOOKINGS.refuses("nested-30000-deep", 400, MALFORMED, raw=nested(30_000)),
        BOOKINGS.refuses("nested-30000-deep-with-nul", 400, MALFORMED, raw=NUL_AND_DEEP),
        BOOKINGS.refuses("empty-body-labelled-json", 400, MALFORMED, raw=b""),
        CANCEL.refuses("empty-body-labelled-json", 400, MALFORMED, raw=b""),
        BOOKINGS.refuses("as-text-plain", 415, MEDIA, raw=json.dumps(RAVI), content_type="text/plain"),
        TOP_UPS.refuses("as-form", 415, MEDIA, raw="amount_minor=5", content_type="application/x-www-form-urlencoded"),
        BOOKINGS.refuses("no-body", 415, MEDIA),
        REVIEWS.refuses("reject-no-body", 415, MEDIA, path="/v1/operators/{other_operator_id}/reject"),
        BOOKINGS.invalid("as-array", "body", body=lambda s: [booking(seat_item(s))]),
        TOP_UPS.invalid("as-string", "body", body="500 INR"),
        OPERATORS.invalid("as-null", "body", raw="null"),
        REVIEWS.invalid("as-number", "body", body=42),
        HOTEL.invalid("empty-object", "body", body={}),
    ],
)
def test_malformed_json_is_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.invalid("top-level", "coupon", body=lambda s: booking(seat_item(s), coupon="FREE")),
        BOOKINGS.invalid("in-an-item", "items[0].discount", body=with_seats(discount=5)),
        BOOKINGS.invalid("in-a-second-item", "items[1].nap", body=lambda s: booking(room_item(s), room_item(s, nap=1))),
        BOOKINGS.invalid(
            "in-a-passenger", "items[0].passengers[0].visa", body=with_seats(passengers=[RAVI | {"visa": 1}])
        ),
        BOOKINGS.invalid(
            "in-the-payment", "payment.card", body=lambda s: booking(seat_item(s), payment={"card": "4111"})
        ),
        TOP_UPS.invalid("in-the-amount", "amount.rate", body={"amount": top_up()["amount"] | {"rate": 1}}),
        SCHEDULES.invalid("top-level", "driver", body=schedule_with(driver="Sunil")),
        OPERATORS.invalid(
            "top-level", "gst", body={"name": "Late Lines", "contact_email": "o@late.example", "gst": "27"}
        ),
        HOTEL.invalid("city", "city", body={"city": "Mumbai"}),
        NIGHTS.invalid("top-level", "discount_percent", body=nights_with(discount_percent=10)),
        CANCEL.invalid("top-level", "refund_to", body={"reason": "ill", "refund_to": "card"}),
    ],
)
def test_unknown_fields_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


PASSENGER_AGE, PASSENGER_NAME, AMOUNT = (
    "items[0].passengers[0].age",
    "items[0].passengers[0].name",
    "amount.amount_minor",
)


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.invalid("age-as-string", PASSENGER_AGE, body=with_seats(passengers=[RAVI | {"age": "33"}])),
        BOOKINGS.invalid("age-as-float", PASSENGER_AGE, body=with_seats(passengers=[RAVI | {"age": 33.5}])),
        BOOKINGS.invalid("name-with-nul", PASSENGER_NAME, body=with_seats(passengers=[RAVI | {"name": "Ra\0vi"}])),
        BOOKINGS.invalid("rooms-as-bool", "items[0].rooms", body=with_rooms(rooms=True)),
        BOOKINGS.invalid("guests-as-string", "items[0].guests", body=with_rooms(guests="2")),
        BOOKINGS.invalid("seats-as-string", "items[0].seats", body=with_seats(seats="1B")),
        BOOKINGS.invalid("schedule-id-null", "items[0].schedule_id", body=with_seats(schedule_id=None)),
        BOOKINGS.invalid("schedule-id-not-a-uuid", "items[0].schedule_id", body=with_seats(schedule_id="trip-1")),
        BOOKINGS.invalid("unknown-item-type", "items[0].type", body=with_seats(type="train_seats")),
        BOOKINGS.invalid("items-as-object", "items", body=lambda s: {"items": seat_item(s)}),
        BOOKINGS.invalid("items-null", "items", body={"items": None}),
        TOP_UPS.invalid("amount-as-string", AMOUNT, body=top_up("50000")),
        TOP_UPS.invalid("float-money", AMOUNT, body=top_up(500.5)),
        TOP_UPS.invalid("whole-float-money", AMOUNT, body=top_up(50000.0)),
        TOP_UPS.invalid("amount-as-bool", AMOUNT, body=top_up(True)),
        TOP_UPS.invalid("amount-null", "amount", body={"amount": None}),
        CREDITS.invalid("reason-null", "reason", body=credit(reason=None)),
        SCHEDULES.invalid("fare-as-number", "fare", body=schedule_with(fare=90000)),
        SCHEDULES.invalid("departure-as-epoch-seconds", "departs_at", body=schedule_with(departs_at=1_900_000_000)),
        ROOM_TYPES.invalid("capacity-as-bool", "capacity", body={"name": "Suite", "capacity": True}),
        HOTEL.invalid("stars-as-string", "stars", body={"stars": "5"}),
        HOTEL.invalid("active-as-string", "is_active", body={"is_active": "no"}),
        HOTEL.invalid("name-null", "name", body={"name": None}),
        NIGHTS.invalid("rooms-as-float", "rooms", body=nights_with(rooms=2.5)),
        BUSES.invalid("seats-as-numbers", "seats[0]", body=lambda s: new_bus(s.operator_id, seats=[1, 2])),
    ],
)
def test_wrong_types_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def inr(amount_minor: int, currency: str = "INR") -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": currency}


ENORMOUS = 10**30  # beyond any integer column
ABOVE_UNIT_PRICES = 10**10 + 1
FARE, RATE = "fare.amount_minor", "rate.amount_minor"


@pytest.mark.parametrize(
    "bad",
    [
        TOP_UPS.invalid("negative", AMOUNT, body=top_up(-50_000)),
        TOP_UPS.invalid("zero", AMOUNT, body=top_up(0)),
        TOP_UPS.invalid("above-the-limit", AMOUNT, body=top_up(10_000_000_001)),
        TOP_UPS.invalid("enormous", AMOUNT, body=top_up(ENORMOUS)),
        TOP_UPS.refuses("usd", 400, FOREIGN, "amount.currency", body=top_up(50_000, "USD")),
        TOP_UPS.invalid("lowercase-currency", "amount.currency", body=top_up(50_000, "inr")),
        TOP_UPS.invalid("currency-not-a-code", "amount.currency", body=top_up(50_000, "RUPEES")),
        CREDITS.invalid("negative", AMOUNT, body=credit(-1)),
        CREDITS.invalid("zero", AMOUNT, body=credit(0)),
        CREDITS.invalid("enormous", AMOUNT, body=credit(ENORMOUS)),
        CREDITS.refuses("eur", 400, FOREIGN, "amount.currency", body=credit(50_000, "EUR")),
        SCHEDULES.invalid("fare-negative", FARE, body=schedule_with(fare=inr(-9))),
        SCHEDULES.invalid("fare-above-unit-prices", FARE, body=schedule_with(fare=inr(ABOVE_UNIT_PRICES))),
        SCHEDULES.invalid("fare-enormous", FARE, body=schedule_with(fare=inr(ENORMOUS))),
        SCHEDULES.refuses("fare-usd", 400, FOREIGN, "fare.currency", body=schedule_with(fare=inr(9, "USD"))),
        NIGHTS.invalid("rate-negative", RATE, body=nights_with(rate=inr(-1))),
        NIGHTS.invalid("rate-above-unit-prices", RATE, body=nights_with(rate=inr(ABOVE_UNIT_PRICES))),
        NIGHTS.invalid("rate-enormous", RATE, body=nights_with(rate=inr(ENORMOUS))),
        NIGHTS.refuses("rate-gbp", 400, FOREIGN, "rate.currency", body=nights_with(rate=inr(450_000, "GBP"))),
    ],
)
def test_bad_money_is_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


@pytest.mark.parametrize(
    "bad",
    [
        read("booking-unknown", "/v1/bookings/{missing}", "asha"),
        read("booking-not-a-uuid", "/v1/bookings/BK-1001", "asha"),
        read("booking-of-another-customer", "/v1/bookings/{booking_id}", "ravi"),
        read("history-of-another-customer", "/v1/bookings/{booking_id}/history", "ravi"),
        # An idempotent request's 404 is kept for its key, like any answer but a 400: the one row it adds.
        CANCEL.refuses(
            "another-customers", 404, NOT_FOUND, body={"reason": "x"}, by="ravi", keeps_answer_in="bookings"
        ),
        PAY.refuses(
            "unknown",
            404,
            NOT_FOUND,
            body={"method": "wallet"},
            path="/v1/bookings/{missing}/pay",
            keeps_answer_in="bookings",
        ),
        PAY.refuses("not-a-uuid", 404, NOT_FOUND, body={"method": "wallet"}, path="/v1/bookings/12345/pay"),
        read("schedule-unknown", "/v1/schedules/{missing}", "asha"),
        read("schedule-not-a-uuid", "/v1/schedules/tomorrow", "asha"),
        case(
            "cancel-another-operators-schedule",
            "POST",
            "/v1/schedules/{schedule_id}/cancel",
            404,
            NOT_FOUND,
            by="rival",
        ),
        SCHEDULES.refuses("on-an-unknown-bus", 404, NOT_FOUND, body=lambda s: new_schedule(s, bus_id=str(uuid4()))),
        SCHEDULES.refuses(
            "on-another-operators-bus", 404, NOT_FOUND, body=lambda s: new_schedule(s, bus_id=s.other_bus_id)
        ),
        read("bus-of-another-operator", "/v1/buses/{other_bus_id}", "konkan"),
        BUSES.refuses("for-another-operator", 404, NOT_FOUND, body=lambda s: new_bus(s.other_operator_id)),
        BUSES.invalid("for-an-operator-id-not-a-uuid", "operator_id", body=new_bus("konkan")),
        read("operator-unknown", "/v1/operators/{missing}", "ops"),
        read("operator-not-a-uuid", "/v1/operators/konkan", "ops"),
        read("operator-of-another-account", "/v1/operators/{operator_id}", "rival"),
        REVIEWS.refuses("unknown-operator", 404, NOT_FOUND, body={}, path="/v1/operators/{missing}/approve"),
        read("hotel-unknown", "/v1/hotels/{missing}", "seaside"),
        read("hotel-not-a-uuid", "/v1/hotels/seaside-inn", "seaside"),
        read("hotel-of-another-owner", "/v1/hotels/{hotel_id}", "lakeside"),
        HOTEL.refuses("of-another-owner", 404, NOT_FOUND, body={"stars": 1}, by="lakeside"),
        HOTELS.refuses("for-another-owner", 404, NOT_FOUND, body=lambda s: new_hotel(s.owner_id), by="lakeside"),
        ROOM_TYPES.refuses(
            "of-an-unknown-hotel",
            404,
            NOT_FOUND,
            body={"name": "Suite", "capacity": 2},
            path="/v1/hotels/{missing}/room-types",
        ),
        read("room-type-unknown", "/v1/room-types/{missing}", "seaside"),
        read("room-type-not-a-uuid", "/v1/room-types/deluxe", "seaside"),
        NIGHTS.refuses("of-an-unknown-room-type", 404, NOT_FOUND, body=nights, path="/v1/room-types/{missing}/nights"),
        NIGHTS.refuses("of-another-owners-room-type", 404, NOT_FOUND, body=nights, by="lakeside"),
        read("transaction-unknown", "/v1/wallets/me/transactions/{missing}", "asha"),
        read("wallet-of-an-unknown-customer", "/v1/wallets/nobody-at-all", "ops"),
        read("wallet-customer-id-too-long", f"/v1/wallets/{'c' * 65}", "ops", 400, INVALID, field_name="customer_id"),
    ],
)
def test_unknown_ids_and_ids_of_others_are_not_found(target: Target, bad: Bad) -> None:
    refused(target, bad)


def stay(name: str, check_in: str, check_out: str, field_name: str) -> Any:
    body = with_rooms(check_in=check_in, check_out=check_out)
    return BOOKINGS.invalid(name, f"items[0].{field_name}", body=body)


def departure(name: str, departs_at: str, arrives_at: str, field_name: str) -> Any:
    return SCHEDULES.invalid(name, field_name, body=schedule_with(departs_at=departs_at, arrives_at=arrives_at))


def allotment(name: str, start: str, end: str, field_name: str) -> Any:
    return NIGHTS.invalid(name, field_name, body=nights_with(**{"from": start, "to": end}))


NIGHTS_OF_ROOM_TYPE = "/v1/room-types/{room_type_id}/nights"
END_OF_TIME = "9999-12-31T23:00:00-05:00"  # past datetime's last moment once in UTC


@pytest.mark.parametrize(
    "bad",
    [
        stay("stay-on-february-30th", "2027-02-30", "2027-03-02", "check_in"),
        stay("stay-in-month-13", "2027-13-01", "2027-13-03", "check_in"),
        stay("stay-out-before-in", "2027-03-05", "2027-03-02", "check_out"),
        stay("stay-of-no-nights", "2027-03-05", "2027-03-05", "check_out"),
        stay("stay-of-31-nights", "2027-03-01", "2027-04-01", "check_out"),
        stay("stay-from-a-day-first-date", "01/03/2027", "2027-03-03", "check_in"),
        departure("on-february-30th", "2027-02-30T08:00:00Z", "2027-03-01T08:00:00Z", "departs_at"),
        departure("in-month-13", "2027-13-01T08:00:00Z", "2027-13-01T18:00:00Z", "departs_at"),
        departure("in-the-past", "2020-01-01T08:00:00Z", "2020-01-01T18:00:00Z", "departs_at"),
        departure("arriving-before-it-leaves", "2027-03-01T18:00:00Z", "2027-03-01T08:00:00Z", "arrives_at"),
        departure("arriving-as-it-leaves", "2027-03-01T08:00:00Z", "2027-03-01T08:00:00Z", "arrives_at"),
        departure("without-an-offset", "2027-03-01T08:00:00", "2027-03-01T18:00:00Z", "departs_at"),
        departure("past-the-calendar", END_OF_TIME, END_OF_TIME, "departs_at"),
        allotment("from-february-30th", "2027-02-30", "2027-03-03", "from"),
        allotment("to-before-from", "2027-03-05", "2027-03-01", "to"),
        allotment("in-the-past", "2020-03-01", "2020-03-05", "from"),
        allotment("over-366-nights", "2027-01-01", "2028-06-01", "to"),
        read(
            "nights-in-month-13",
            NIGHTS_OF_ROOM_TYPE,
            "seaside",
            400,
            INVALID,
            field_name="from",
            params={"from": "2027-13-01", "to": "2027-13-05"},
        ),
        read(
            "nights-without-to",
            NIGHTS_OF_ROOM_TYPE,
            "seaside",
            400,
            INVALID,
            field_name="to",
            params={"from": "2027-03-05"},
        ),
    ],
)
def test_impossible_dates_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def forged(name: str, *, secret: str | None = None, algorithm: str = "HS256", **changed: Any) -> Any:
    """A top-up (the write a forged token is after) under a token of these claims, signed as the test runs."""

    def authorization() -> dict[str, str]:
        return {"Authorization": f"Bearer {forged_token(claims(**changed), secret=secret, algorithm=algorithm)}"}

    return TOP_UPS.refuses(name, 401, "unauthorized", body=top_up(), by=None, headers=authorization)


def authorized(name: str, value: str | None) -> Any:
    """A top-up with this ``Authorization`` header (None: without one)."""
    headers = {} if value is None else {"Authorization": value}
    return TOP_UPS.refuses(name, 401, "unauthorized", body=top_up(), by=None, headers=headers)


@pytest.mark.parametrize(
    "bad",
    [
        forged("bad-signature", secret="not the platform's secret, though long enough"),
        forged("alg-none", algorithm="none"),
        forged("alg-hs512-with-the-right-secret", algorithm="HS512"),
        forged("wrong-issuer", iss="someone-else"),
        forged("wrong-audience", aud="another-api"),
        forged("expired", iat=1_700_000_000, exp=1_700_003_600),  # 2023
        forged("issued-in-the-future", iat=4_102_444_800),  # 2100
        forged("no-expiry", exp=None),
        forged("missing-sub", sub=None),
        forged("empty-sub", sub=""),
        forged("sub-too-long", sub="x" * 65),
        forged("unknown-role", role="superuser"),
        forged("role-as-list", role=["customer", "admin"]),
        forged("missing-role", role=None),
        authorized("garbage", "Bearer not.a.jwt"),
        authorized("missing-bearer-scheme", forged_token(claims())),
        authorized("basic-auth", "Basic YXNoYTpzZWNyZXQ="),
        authorized("bearer-without-token", "Bearer"),
        authorized("no-authorization", None),
    ],
)
def test_forged_tokens_are_unauthorized(target: Target, bad: Bad) -> None:
    assert refused(target, bad).headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.refuses("by-an-operator", 403, FORBIDDEN, body=with_seats(), by="konkan"),
        BOOKINGS.refuses("by-an-admin", 403, FORBIDDEN, body=with_seats(), by="ops"),
        SCHEDULES.refuses("by-a-customer", 403, FORBIDDEN, body=schedule_with(), by="asha"),
        TOP_UPS.refuses("by-an-owner", 403, FORBIDDEN, body=top_up(), by="seaside"),
        CREDITS.refuses("by-a-customer-to-herself", 403, FORBIDDEN, body=credit(), by="asha"),
        REVIEWS.refuses("by-the-operator-itself", 403, FORBIDDEN, body={}, by="rival"),
        read("operators-by-a-customer", "/v1/operators", "asha", 403, FORBIDDEN),
        case("delete-booking-by-its-customer", "DELETE", "/v1/bookings/{booking_id}", 403, FORBIDDEN, by="asha"),
        case("retry-booking-by-its-customer", "POST", "/v1/bookings/{booking_id}/retry", 403, FORBIDDEN, by="asha"),
        HOTELS.refuses("by-an-operator", 403, FORBIDDEN, body=lambda s: new_hotel(s.owner_id), by="konkan"),
        NIGHTS.refuses("set-by-an-admin", 403, FORBIDDEN, body=nights, by="ops"),
        read("bookings-of-another-customer", "/v1/bookings", "asha", 403, FORBIDDEN, params={"customer_id": "ravi"}),
        read("stuck-bookings-by-a-customer", "/v1/bookings", "asha", 403, FORBIDDEN, params={"stuck": "true"}),
    ],
)
def test_wrong_roles_are_forbidden(target: Target, bad: Bad) -> None:
    refused(target, bad)


KEY_MISSING, KEY = "idempotency_key_missing", "Idempotency-Key"


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.refuses("without-key", 400, KEY_MISSING, body=with_seats(), key=False),
        TOP_UPS.refuses("without-key", 400, KEY_MISSING, body=top_up(), key=False),
        CREDITS.refuses("without-key", 400, KEY_MISSING, body=credit(), key=False),
        PAY.refuses("without-key", 400, KEY_MISSING, body={"method": "wallet"}, key=False),
        CANCEL.refuses("without-key", 400, KEY_MISSING, body={"reason": "plans changed"}, key=False),
        TOP_UPS.refuses("empty-key", 400, KEY_MISSING, body=top_up(), key=False, headers={KEY: ""}),
        BOOKINGS.invalid("key-of-256", KEY, body=with_seats(), key=False, headers={KEY: "k" * 256}),
        TOP_UPS.invalid("key-of-5000", KEY, body=top_up(), key=False, headers={KEY: "k" * 5000}),
        CANCEL.invalid("key-with-a-tab", KEY, body={"reason": "x"}, key=False, headers={KEY: "tab\there"}),
    ],
)
def test_bad_idempotency_keys_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def cursor(position: Any) -> str:
    """A cursor encoded as the API encodes its own, around a position it never issued."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def listing(name: str, path: str, by: str, field_name: str, code: str = INVALID, **params: Any) -> Any:
    return read(name, path, by, 400, code, field_name=field_name, params=params)


BAD_CURSOR = "invalid_cursor"
BOOKING = "/v1/bookings/{booking_id}"
TRANSACTIONS = "/v1/wallets/me/transactions"


@pytest.mark.parametrize(
    "bad",
    [
        listing("bookings-unknown-parameter", "/v1/bookings", "asha", "colour", colour="red"),
        listing("bookings-limit-0", "/v1/bookings", "asha", "limit", limit="0"),
        listing("bookings-limit-101", "/v1/bookings", "asha", "limit", limit="101"),
        listing("bookings-limit-negative", "/v1/bookings", "asha", "limit", limit="-5"),
        listing("bookings-limit-in-words", "/v1/bookings", "asha", "limit", limit="ten"),
        listing("bookings-limit-fraction", "/v1/bookings", "asha", "limit", limit="2.5"),
        listing("bookings-limit-empty", "/v1/bookings", "asha", "limit", limit=""),
        listing("bookings-limit-twice", "/v1/bookings", "asha", "limit", limit=["5", "6"]),
        listing("bookings-limit-enormous", "/v1/bookings", "asha", "limit", limit="9" * 40),
        listing("bookings-unknown-status", "/v1/bookings", "asha", "status", status="lost"),
        listing("bookings-cursor-empty", "/v1/bookings", "asha", "cursor", cursor=""),
        listing("bookings-cursor-too-long", "/v1/bookings", "asha", "cursor", cursor="A" * 2000),
        listing("bookings-cursor-junk", "/v1/bookings", "asha", "cursor", BAD_CURSOR, cursor="not a cursor!"),
        listing("bookings-cursor-of-a-list", "/v1/bookings", "asha", "cursor", BAD_CURSOR, cursor=cursor([1, 2])),
        listing("bookings-cursor-elsewhere", "/v1/bookings", "asha", "cursor", BAD_CURSOR, cursor=cursor({"id": 1})),
        listing("booking-unknown-parameter", BOOKING, "asha", "verbose", verbose="1"),
        listing("booking-wait-31", BOOKING, "asha", "wait", wait="31"),
        listing("booking-wait-negative", BOOKING, "asha", "wait", wait="-1"),
        listing("booking-wait-nan", BOOKING, "asha", "wait", wait="nan"),
        listing("booking-wait-infinite", BOOKING, "asha", "wait", wait="inf"),
        listing("transactions-unknown-kind", TRANSACTIONS, "asha", "kind", kind="theft"),
        listing("transactions-unknown-parameter", TRANSACTIONS, "asha", "page", page="2"),
        listing(
            "transactions-cursor-past-bigint",
            TRANSACTIONS,
            "asha",
            "cursor",
            BAD_CURSOR,
            cursor=cursor({"before_entry": 2**70}),
        ),
        listing("customer-transactions-limit-1000", "/v1/wallets/asha/transactions", "ops", "limit", limit="1000"),
        listing("operators-unknown-status", "/v1/operators", "ops", "approval_status", approval_status="maybe"),
        listing("operators-unknown-parameter", "/v1/operators", "ops", "sort", sort="name"),
        listing(
            "operators-cursor-elsewhere",
            "/v1/operators",
            "ops",
            "cursor",
            BAD_CURSOR,
            cursor=cursor({"submitted_at": "2027-01-01T00:00:00", "id": 7}),
        ),
    ],
)
def test_bad_query_strings_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def buses(name: str, field_name: str, code: str = INVALID, **changed: Any) -> Any:
    query = {"origin": "Mumbai", "destination": "Goa", "date": "2027-01-20"} | changed
    given = {parameter: value for parameter, value in query.items() if value is not None}
    return case(f"buses-{name}", "GET", "/v1/search/buses", 400, code, field_name, params=given)


def hotels(name: str, field_name: str, code: str = INVALID, **changed: Any) -> Any:
    query = {"city": "Goa", "check_in": "2027-01-21", "check_out": "2027-01-23"} | changed
    return case(f"hotels-{name}", "GET", "/v1/search/hotels", 400, code, field_name, params=query)


@pytest.mark.parametrize(
    "bad",
    [
        buses("on-february-30th", "date", date="2027-02-30"),
        buses("in-month-13", "date", date="2027-13-01"),
        buses("date-in-words", "date", date="tomorrow"),
        buses("date-with-a-time", "date", date="2027-01-20T08:00:00Z"),
        buses("on-the-last-day-of-the-calendar", "date", date="9999-12-31"),
        buses("date-empty", "date", date=""),
        buses("without-date", "date", date=None),
        buses("blank-origin", "origin", origin="   "),
        buses("no-seats", "seats", seats="0"),
        buses("negative-fare", "max_fare_minor", max_fare_minor="-1"),
        buses("unknown-sort", "sort", sort="cheapest"),
        buses("unknown-bus-type", "bus_type", bus_type="double_decker"),
        buses("limit-0", "limit", limit="0"),
        buses("cursor-junk", "cursor", BAD_CURSOR, cursor="%%%"),
        buses("unknown-parameter", "via", via="Pune"),
        hotels("on-february-30th", "check_in", check_in="2027-02-30", check_out="2027-03-02"),
        hotels("out-before-in", "check_out", check_in="2027-01-23", check_out="2027-01-21"),
        hotels("no-nights", "check_out", check_in="2027-01-21", check_out="2027-01-21"),
        hotels("31-nights", "check_out", check_in="2027-01-01", check_out="2027-02-01"),
        hotels("day-first-date", "check_in", check_in="21-01-2027"),
        hotels("out-past-the-calendar", "check_out", check_in="9999-12-30", check_out="9999-13-01"),
        hotels("guests-in-words", "guests", guests="two"),
        hotels("six-stars", "min_stars", min_stars="6"),
        hotels("bad-amenity", "amenities", amenities="Wi Fi!"),
        hotels("limit-101", "limit", limit="101"),
        hotels("cursor-elsewhere", "cursor", BAD_CURSOR, cursor=cursor({"sort": "price", "rank": 1})),
        hotels("unknown-parameter", "country", country="IN"),
    ],
)
def test_bad_searches_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def padded(size: int) -> Any:
    """A booking with a ``note`` long enough that the document is exactly ``size`` bytes."""

    def document(s: Any) -> bytes:
        body = booking(seat_item(s))
        bare = len(json.dumps(body | {"note": ""}).encode())
        return json.dumps(body | {"note": "x" * (size - bare)}).encode()

    return document


def chunks(size: int) -> Any:
    """A JSON document of about ``size`` bytes as a generator, which requests sends chunked (no Content-Length)."""

    def pieces() -> Iterator[bytes]:
        yield b'{"note": "'
        yield from (b"x" * min(8192, size - start) for start in range(0, size, 8192))
        yield b'"}'

    return lambda s: pieces()


TOO_LARGE = "payload_too_large"


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.refuses("one-byte-over", 413, TOO_LARGE, raw=padded(LIMIT + 1)),
        BOOKINGS.refuses("of-a-mebibyte", 413, TOO_LARGE, raw=padded(1024 * 1024)),
        TOP_UPS.refuses("over-without-token", 413, TOO_LARGE, raw=padded(100_000), by=None),
        BOOKINGS.refuses("chunked", 413, TOO_LARGE, raw=chunks(100_000)),
        TOP_UPS.refuses("chunked-without-token", 413, TOO_LARGE, raw=chunks(LIMIT), by=None),
        NIGHTS.refuses("chunked", 413, TOO_LARGE, raw=chunks(200_000)),
    ],
)
def test_bodies_over_the_limit_are_refused_by_the_gateway(target: Target, bad: Bad) -> None:
    refused(target, bad)


@pytest.mark.parametrize(
    "bad",
    [
        BOOKINGS.invalid("at-the-limit", "note", raw=padded(LIMIT)),
        BOOKINGS.invalid("just-under", "note", raw=padded(LIMIT - 500)),
        TOP_UPS.refuses("just-under-without-token", 401, "unauthorized", raw=padded(LIMIT - 100), by=None),
        BOOKINGS.invalid("chunked-just-under", "note", raw=chunks(60_000)),
    ],
)
def test_bodies_within_the_limit_reach_the_service(target: Target, bad: Bad) -> None:
    # The service's own answer: its problems name the request path, the gateway's do not.
    assert refused(target, bad).json()["instance"].startswith("/v1/")


HEADER_TOO_LARGE, URI_TOO_LONG = "request_header_fields_too_large", "uri_too_long"
MANY_HEADERS = {f"X-Padding-{n}": "x" for n in range(120)}
LONG_TOKEN = {"Authorization": "Bearer " + "x" * 9000}
HOTEL_SEARCH = {"city": "Goa", "check_in": "2027-01-21", "check_out": "2027-01-23"}


@pytest.mark.parametrize(
    "bad",
    [
        TOP_UPS.refuses("token-of-9000-characters", 431, HEADER_TOO_LARGE, body=top_up(), by=None, headers=LONG_TOKEN),
        read("bookings-with-120-header-fields", "/v1/bookings", "asha", 431, HEADER_TOO_LARGE, headers=MANY_HEADERS),
        case(
            "search-of-10000-characters",
            "GET",
            "/v1/search/hotels",
            414,
            URI_TOO_LONG,
            params=HOTEL_SEARCH | {"amenities": ",".join(["wifi"] * 2000)},
        ),
        BOOKINGS.refuses("with-a-long-query", 414, URI_TOO_LONG, body=with_seats(), params={"p": "x" * 9000}),
    ],
)
def test_oversized_request_heads_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


@pytest.mark.parametrize(
    "bad",
    [
        read("prefix-lookalike", "/v1/bookingsfoo", "asha"),
        case("unknown-collection", "POST", "/v1/trains", 404, NOT_FOUND, body={}, by="asha"),
        read("internal-route", "/admin/messaging-probes", "ops"),
        case("put-on-bookings", "PUT", "/v1/bookings", 405, "method_not_allowed", body={}, by="asha"),
        case("delete-own-wallet", "DELETE", "/v1/wallets/me", 405, "method_not_allowed", by="asha"),
    ],
)
def test_unknown_paths_and_methods_are_refused(target: Target, bad: Bad) -> None:
    refused(target, bad)


def test_the_footprint_sees_what_an_accepted_request_leaves(target: Target) -> None:
    """The check every case above relies on is not blind: a registration shows in a table and in a stream."""
    before = footprint(target.platform)
    registration = {"name": "Late Lines", "contact_email": "ops@late.example"}

    bearer = {"Authorization": f"Bearer {issue_dev_token('newcomer', 'operator')}"}
    response = requests.post(f"{target.gateway}/v1/operators", json=registration, headers=bearer, timeout=40)

    assert response.status_code == 201, response.text
    target.platform.wait_until_quiet(SERVICES, what="the registration published and projected")
    changed = changes(before, footprint(target.platform))
    assert "inventory.operators" in changed
    assert "stream INVENTORY_EVT messages" in changed
