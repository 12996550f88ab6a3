"""Bad input to ``/v1/bookings`` is a 400 (413, 415, 404) problem naming the field, and leaves nothing behind.

A refused booking writes no booking, queues no command and keeps no idempotency record, so the client may fix the
body and send it again under the same key.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tripline.testing import assert_problem, bearer, sql

from ..saga_desk import SagaDesk

ASHA = bearer("cust-asha", "customer")
ADMIN = bearer("ops", "admin")
BOOKINGS = "/v1/bookings"
MAX_NIGHTS = 30
SCHEDULE = "6f1c6d3e-2b7a-4c55-9a59-3c1d8e2f7b10"
ROOM_TYPE = "0b6f3f7e-52a1-4c8e-9d0a-5c2a7d9e1f34"

Body = dict[str, Any]


def night(offset: int) -> str:
    """A date ``offset`` days after the test stay's check-in, a month from today."""
    return (datetime.now(UTC).date() + timedelta(days=30 + offset)).isoformat()


def bus_seats(**changes: Any) -> Body:
    return {
        "type": "bus_seats",
        "schedule_id": SCHEDULE,
        "seats": ["1A", "1B"],
        "passengers": [{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}],
    } | changes


def hotel_rooms(**changes: Any) -> Body:
    return {
        "type": "hotel_rooms",
        "room_type_id": ROOM_TYPE,
        "check_in": night(0),
        "check_out": night(2),
        "rooms": 1,
        "guests": 2,
    } | changes


def trip(*items: Body, **top: Any) -> Body:
    return {"items": list(items) or [bus_seats(), hotel_rooms()], "payment": {"method": "wallet"}} | top


def book(client: FlaskClient, key: str, **request: Any) -> Any:
    return client.post(BOOKINGS, headers={**ASHA, "Idempotency-Key": key, **request.pop("headers", {})}, **request)


def written(database_url: str) -> tuple[int, int, int]:
    """(bookings, outbox messages, idempotency records): what any accepted request leaves behind."""
    [row] = sql(
        database_url,
        "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM outbox),"
        " (SELECT count(*) FROM idempotency_requests)",
    )
    return (int(row[0]), int(row[1]), int(row[2]))


def assert_refused_and_forgotten(client: FlaskClient, database_url: str, key: str) -> None:
    """Nothing was written, and the same key books once the body is right."""
    assert written(database_url) == (0, 0, 0)
    fixed = book(client, key, json=trip())
    assert fixed.status_code == 202, fixed.json
    assert "Idempotent-Replayed" not in fixed.headers


def without(item: Body, name: str) -> Body:
    return {key: value for key, value in item.items() if key != name}


# Each case: a body and the field its error must name.
INVALID_BODIES: dict[str, tuple[Body | list[Any], str]] = {
    "not an object": ([], "body"),
    "no items member": ({"payment": {"method": "wallet"}}, "items"),
    "items not a list": (trip(items={}), "items"),
    "unknown top-level field": (trip(coupon="FREE"), "coupon"),
    "unknown item field": (trip(hotel_rooms(meal_plan="breakfast")), "items[0].meal_plan"),
    "unknown passenger field": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31, "seat": "1A"}])),
        "items[0].passengers[0].seat",
    ),
    "unknown payment field": (trip(payment={"method": "wallet", "card": "4111"}), "payment.card"),
    "seats as a string": (trip(bus_seats(seats="1A")), "items[0].seats"),
    "age as a string": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": "31"}])),
        "items[0].passengers[0].age",
    ),
    "age as a boolean": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": True}])),
        "items[0].passengers[0].age",
    ),
    "rooms as a float": (trip(hotel_rooms(rooms=1.0)), "items[0].rooms"),
    "rooms as a string": (trip(hotel_rooms(rooms="1")), "items[0].rooms"),
    "check_in as a number": (trip(hotel_rooms(check_in=20261201)), "items[0].check_in"),
    "payment as a string": (trip(payment="wallet"), "payment"),
    "no items": (trip(items=[]), "items"),
    "six items": (trip(items=[hotel_rooms(room_type_id=str(uuid.uuid4())) for _ in range(6)]), "items"),
    "no item type": (trip(without(hotel_rooms(), "type")), "items[0].type"),
    "unknown item type": (trip(hotel_rooms(type="train_berths")), "items[0].type"),
    "no seats": (trip(bus_seats(seats=[], passengers=[])), "items[0].seats"),
    "seat label too long": (
        trip(bus_seats(seats=["1A" * 5], passengers=[{"name": "Asha", "age": 31}])),
        "items[0].seats[0]",
    ),
    "blank passenger name": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "  ", "age": 31}])),
        "items[0].passengers[0].name",
    ),
    "negative age": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": -1}])),
        "items[0].passengers[0].age",
    ),
    "impossible check_in": (trip(hotel_rooms(check_in="2026-02-30", check_out="2026-03-02")), "items[0].check_in"),
    "impossible check_out": (trip(hotel_rooms(check_out="2026-12-32")), "items[0].check_out"),
    "date with a time": (trip(hotel_rooms(check_in="2026-12-01T00:00:00Z")), "items[0].check_in"),
    "no rooms": (trip(hotel_rooms(rooms=0)), "items[0].rooms"),
    "no guests": (trip(hotel_rooms(guests=0)), "items[0].guests"),
    "schedule_id not a UUID": (trip(bus_seats(schedule_id="schedule-7")), "items[0].schedule_id"),
    "schedule_id a number": (trip(bus_seats(schedule_id=7)), "items[0].schedule_id"),
    "room_type_id not a UUID": (trip(hotel_rooms(room_type_id="deluxe")), "items[0].room_type_id"),
    "payment by card": (trip(payment={"method": "card"}), "payment.method"),
    "payment without a method": (trip(payment={}), "payment.method"),
    "NUL in a passenger name": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "As\x00ha", "age": 31}])),
        "items[0].passengers[0].name",
    ),
    "NUL in a seat": (
        trip(bus_seats(seats=["1\x00A"], passengers=[{"name": "Asha", "age": 31}])),
        "items[0].seats[0]",
    ),
}

# The rules that tie two fields together; the error names the field the client must change.
INCONSISTENT_BODIES: dict[str, tuple[Body, str]] = {
    "a seat named twice": (
        trip(bus_seats(seats=["1A", "1A"], passengers=[{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}])),
        "items[0].seats",
    ),
    "more passengers than seats": (
        trip(bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}])),
        "items[0].passengers",
    ),
    "fewer passengers than seats": (
        trip(bus_seats(seats=["1A", "1B"], passengers=[{"name": "Asha", "age": 31}])),
        "items[0].passengers",
    ),
    "check_out before check_in": (trip(hotel_rooms(check_out=night(-1))), "items[0].check_out"),
    "check_out on check_in": (trip(hotel_rooms(check_out=night(0))), "items[0].check_out"),
    "31 nights": (trip(hotel_rooms(check_out=night(MAX_NIGHTS + 1))), "items[0].check_out"),
    "a seat in two items": (
        trip(
            bus_seats(seats=["1A"], passengers=[{"name": "Asha", "age": 31}]),
            bus_seats(seats=["2B", "1A"], passengers=[{"name": "Ravi", "age": 33}, {"name": "Meera", "age": 8}]),
        ),
        "items[1].seats",
    ),
}


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_an_invalid_booking_names_the_field_and_writes_nothing(
    client: FlaskClient, database_url: str, body: Body, field: str
) -> None:
    response = book(client, "fix-and-retry", json=body)

    assert_problem(response, 400, "validation_failed", field)
    assert_refused_and_forgotten(client, database_url, "fix-and-retry")


@pytest.mark.parametrize("body", [body for body, _ in INCONSISTENT_BODIES.values()], ids=INCONSISTENT_BODIES.keys())
def test_an_inconsistent_booking_is_refused_and_writes_nothing(
    client: FlaskClient, database_url: str, body: Body
) -> None:
    response = book(client, "fix-and-retry", json=body)

    assert_problem(response, 400, "validation_failed")
    assert_refused_and_forgotten(client, database_url, "fix-and-retry")


def test_an_inconsistent_booking_names_the_field_the_client_must_change(client: FlaskClient) -> None:
    """The contract's own example: a seat error is located at ``items[0].seats``, a field of the request."""
    named = {
        case: [error["field"] for error in book(client, case, json=body).json["errors"]]
        for case, (body, _) in INCONSISTENT_BODIES.items()
    }

    assert named == {case: [field] for case, (_, field) in INCONSISTENT_BODIES.items()}


def test_a_thirty_night_stay_and_five_items_are_within_the_limits(client: FlaskClient) -> None:
    longest = hotel_rooms(check_out=night(MAX_NIGHTS))
    others = [hotel_rooms(room_type_id=str(uuid.uuid4())) for _ in range(4)]

    response = book(client, "at-the-limits", json=trip(longest, *others))

    assert response.status_code == 202, response.json
    assert len(response.json["items"]) == 5


def test_malformed_json_is_refused_and_writes_nothing(client: FlaskClient, database_url: str) -> None:
    response = book(client, "fix-and-retry", data='{"items": [', content_type="application/json")

    assert_problem(response, 400, "malformed_json")
    assert_refused_and_forgotten(client, database_url, "fix-and-retry")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_refused_as_unsupported_and_writes_nothing(
    client: FlaskClient, database_url: str, content_type: str | None
) -> None:
    response = book(client, "fix-and-retry", data=json.dumps(trip()), content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")
    assert_refused_and_forgotten(client, database_url, "fix-and-retry")


def test_a_body_over_64_kib_is_refused_as_too_large_and_writes_nothing(client: FlaskClient, database_url: str) -> None:
    body = trip(bus_seats(seats=["1A"], passengers=[{"name": "A" * 70_000, "age": 31}]))

    response = book(client, "fix-and-retry", json=body)

    assert_problem(response, 413, "payload_too_large")
    assert_refused_and_forgotten(client, database_url, "fix-and-retry")


def test_an_idempotency_key_longer_than_255_characters_is_refused(client: FlaskClient, database_url: str) -> None:
    response = book(client, "k" * 256, json=trip())

    assert_problem(response, 400, "validation_failed", "Idempotency-Key")
    assert_refused_and_forgotten(client, database_url, "k" * 255)


# Paying and cancelling -----------------------------------------------------------------------------------------


def reserved_booking(client: FlaskClient, desk: SagaDesk) -> str:
    response = book(client, str(uuid.uuid4()), json=trip(payment=None))
    assert response.status_code == 202, response.json
    desk.reserved(uuid.UUID(response.json["id"]))
    return str(response.json["id"])


# What each action, asked right, makes of a reserved booking.
FIXED = {"pay": ({"method": "wallet"}, "payment_pending"), "cancel": ({"reason": "plans changed"}, "cancelled")}


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("pay", {"method": "card"}, "method"),
        ("pay", {}, "method"),
        ("pay", {"method": "wallet", "amount": 5}, "amount"),
        ("pay", [], "body"),
        ("cancel", {"reason": "x" * 501}, "reason"),
        ("cancel", {"reason": ""}, "reason"),
        ("cancel", {"reason": 5}, "reason"),
        ("cancel", {"why": "x"}, "why"),
    ],
    ids=[
        "pay: card",
        "pay: no method",
        "pay: unknown field",
        "pay: not an object",
        "cancel: reason too long",
        "cancel: empty reason",
        "cancel: reason not text",
        "cancel: unknown field",
    ],
)
def test_an_invalid_payment_or_cancellation_is_refused_and_the_booking_stays_reserved(
    client: FlaskClient, desk: SagaDesk, action: str, body: Any, field: str
) -> None:
    booking_id = reserved_booking(client, desk)
    path, headers = f"{BOOKINGS}/{booking_id}/{action}", {**ASHA, "Idempotency-Key": action}

    response = client.post(path, json=body, headers=headers)

    assert_problem(response, 400, "validation_failed", field)
    assert desk.status(uuid.UUID(booking_id)) == "reserved"
    fixed_body, status = FIXED[action]
    fixed = client.post(path, json=fixed_body, headers=headers)
    assert (fixed.status_code, fixed.json["status"]) == (202, status)


# Query parameters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wait", ["31", "-1", "nan", "inf", "soon", "1e3"])
def test_a_wait_outside_0_to_30_seconds_is_refused(client: FlaskClient, desk: SagaDesk, wait: str) -> None:
    booking_id = reserved_booking(client, desk)

    response = client.get(f"{BOOKINGS}/{booking_id}?wait={wait}", headers=ASHA)

    assert_problem(response, 400, "validation_failed", "wait")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("status=bogus", "status"),
        ("status=PENDING", "status"),
        ("cursor=", "cursor"),
        ("cursor=" + "x" * 1025, "cursor"),
    ],
)
def test_a_bad_list_parameter_is_refused(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"{BOOKINGS}?{query}", headers=ASHA)

    assert_problem(response, 400, "validation_failed", field)


@pytest.mark.parametrize(("query", "field"), [("include_deleted=maybe", "include_deleted"), ("stuck=2", "stuck")])
def test_a_bad_admin_filter_is_refused(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"{BOOKINGS}?{query}", headers=ADMIN)

    assert_problem(response, 400, "validation_failed", field)


def encoded(document: Any) -> str:
    """A cursor-shaped string around ``document`` (cursors are urlsafe base64 of JSON, unpadded)."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        encoded([1, 2]),
        encoded("2026-01-01"),
        encoded({"created_at": "yesterday", "id": str(uuid.uuid4())}),
        encoded({"created_at": "2026-01-01T00:00:00Z", "id": "seven"}),
        encoded({"created_at": "2026-01-01T00:00:00Z"}),
        encoded({"created_at": 10**20, "id": str(uuid.uuid4())}),
        "bm90IGpzb24",  # base64 of "not json"
    ],
    ids=[
        "punctuation",
        "percent signs",
        "a list",
        "a string",
        "no timestamp",
        "no uuid",
        "no id",
        "huge epoch",
        "not json",
    ],
)
def test_a_cursor_this_api_did_not_issue_is_refused(client: FlaskClient, desk: SagaDesk, cursor: str) -> None:
    reserved_booking(client, desk)

    for headers in (ASHA, ADMIN):
        response = client.get(BOOKINGS, query_string={"cursor": cursor}, headers=headers)

        assert_problem(response, 400, "invalid_cursor", "cursor")


# Paths -------------------------------------------------------------------------------------------------------------

Call = Callable[[FlaskClient, str], Any]
CALLS: dict[str, Call] = {
    "show": lambda c, path: c.get(path, headers=ASHA),
    "history": lambda c, path: c.get(f"{path}/history", headers=ASHA),
    "pay": lambda c, path: c.post(f"{path}/pay", json={"method": "wallet"}, headers={**ASHA, "Idempotency-Key": "k"}),
    "cancel by customer": lambda c, path: c.post(
        f"{path}/cancel", json={"reason": "x"}, headers={**ASHA, "Idempotency-Key": "k"}
    ),
    "cancel by admin": lambda c, path: c.post(
        f"{path}/cancel", json={"reason": "x"}, headers={**ADMIN, "Idempotency-Key": "k"}
    ),
    "delete": lambda c, path: c.delete(path, headers=ADMIN),
    "retry": lambda c, path: c.post(f"{path}/retry", headers=ADMIN),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(
    "booking_id", ["42", "not-a-uuid", "6f1c6d3e-2b7a-4c55-9a59", "5b0e2d4a-8f3c-4e21-9a6d-1c7b3e9f0a42"]
)
def test_a_path_that_names_no_booking_is_not_found(
    client: FlaskClient, database_url: str, call: Call, booking_id: str
) -> None:
    response = call(client, f"{BOOKINGS}/{booking_id}")

    assert_problem(response, 404, "not_found")
    bookings, messages, _ = written(database_url)
    # A 404 is an answer like any other: under an Idempotency-Key it is kept and replayed, but nothing else is written.
    assert (bookings, messages) == (0, 0)
