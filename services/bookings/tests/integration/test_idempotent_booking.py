"""``Idempotency-Key`` on booking requests: one key makes one booking, however often and however fast it is sent.

A retry gets the first answer again, a different request under a used key is refused, and a key belongs to the
customer who sent it.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tripline.testing import assert_problem, bearer, sql

from ..saga_desk import SagaDesk, bus_item, hotel_item

ASHA = bearer("cust-asha", "customer")
RAVI = bearer("cust-ravi", "customer")
ADMIN = bearer("ops", "admin")
BOOKINGS = "/v1/bookings"
RACERS = 50

Body = dict[str, Any]


def trip(payment: str | None = "wallet") -> Body:
    return {"items": [bus_item(("1A", "1B")), hotel_item()], "payment": {"method": payment} if payment else None}


def book(client: FlaskClient, body: Body, key: str | None, headers: dict[str, str] = ASHA) -> Any:
    keyed = {**headers, "Idempotency-Key": key} if key is not None else headers
    return client.post(BOOKINGS, json=body, headers=keyed)


def booking_ids(database_url: str) -> list[uuid.UUID]:
    return [row[0] for row in sql(database_url, "SELECT id FROM bookings ORDER BY created_at")]


def reserve_commands(database_url: str) -> int:
    return int(sql(database_url, "SELECT count(*) FROM outbox WHERE subject = 'inventory.cmd.reserve'")[0][0])


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": ""}], ids=["absent", "empty"])
def test_a_booking_without_a_key_is_refused_and_writes_nothing(
    client: FlaskClient, database_url: str, headers: dict[str, str]
) -> None:
    response = client.post(BOOKINGS, json=trip(), headers={**ASHA, **headers})

    assert_problem(response, 400, "idempotency_key_missing")
    assert booking_ids(database_url) == []
    assert sql(database_url, "SELECT count(*) FROM outbox")[0][0] == 0


def test_a_retry_with_the_same_key_and_body_is_answered_with_the_same_booking(
    client: FlaskClient, database_url: str
) -> None:
    body = trip()
    first = book(client, body, "trip-to-goa")

    again = book(client, body, "trip-to-goa")

    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert booking_ids(database_url) == [uuid.UUID(first.json["id"])]
    assert reserve_commands(database_url) == 1


def test_a_retry_is_answered_with_the_first_response_even_after_the_booking_moved_on(
    client: FlaskClient, desk: SagaDesk
) -> None:
    body = trip(payment=None)
    first = book(client, body, "trip-to-goa")
    desk.reserved(uuid.UUID(first.json["id"]))

    again = book(client, body, "trip-to-goa")

    assert (again.status_code, again.json) == (202, first.json)
    assert again.json["status"] == "pending"
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_a_different_body_is_refused_and_books_nothing_more(
    client: FlaskClient, database_url: str
) -> None:
    first = book(client, trip(), "trip-to-goa")

    other_seats = book(client, {**trip(), "items": [bus_item(("9C",))]}, "trip-to-goa")
    without_payment = book(client, trip(payment=None), "trip-to-goa")

    assert_problem(other_seats, 422, "idempotency_key_reused")
    assert_problem(without_payment, 422, "idempotency_key_reused")
    assert booking_ids(database_url) == [uuid.UUID(first.json["id"])]
    assert reserve_commands(database_url) == 1


def test_different_keys_make_different_bookings(client: FlaskClient, database_url: str) -> None:
    body = trip()

    first = book(client, body, "first")
    second = book(client, body, "second")

    assert first.status_code == second.status_code == 202
    assert first.json["id"] != second.json["id"]
    assert sorted(booking_ids(database_url)) == sorted(uuid.UUID(r.json["id"]) for r in (first, second))
    assert reserve_commands(database_url) == 2


def test_a_key_belongs_to_the_customer_who_sent_it(client: FlaskClient, database_url: str) -> None:
    body = trip()

    ashas = book(client, body, "shared-key")
    ravis = book(client, body, "shared-key", headers=RAVI)

    assert ashas.status_code == ravis.status_code == 202
    assert "Idempotent-Replayed" not in ravis.headers
    assert ashas.json["id"] != ravis.json["id"]
    assert (ashas.json["customer_id"], ravis.json["customer_id"]) == ("cust-asha", "cust-ravi")
    assert len(booking_ids(database_url)) == 2


def test_fifty_simultaneous_requests_with_one_key_make_one_booking(
    app: Flask, database_url: str, desk: SagaDesk
) -> None:
    body = trip()
    start = threading.Barrier(RACERS)

    def race(_: int) -> Any:
        racer = app.test_client()
        start.wait()
        return book(racer, body, "one-key")

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(race, range(RACERS)))

    [booking_id] = booking_ids(database_url)
    accepted = [r for r in responses if r.status_code == 202]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(accepted) + len(in_use) == RACERS, [(r.status_code, r.json) for r in responses]
    assert accepted, "no racer got the booking"
    assert {r.json["id"] for r in accepted} == {str(booking_id)}
    assert all(r.headers["Location"] == f"{BOOKINGS}/{booking_id}" for r in accepted)
    assert all(r.json["code"] == "idempotency_key_in_use" and int(r.headers["Retry-After"]) >= 1 for r in in_use)
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]


def test_a_key_whose_answer_was_forgotten_still_finds_its_own_booking(client: FlaskClient, database_url: str) -> None:
    """Past the key's retention its cached answer is gone, but the booking's id still derives from the key."""
    body = trip()
    first = book(client, body, "trip-to-goa")
    sql(database_url, "DELETE FROM idempotency_requests")

    again = book(client, body, "trip-to-goa")
    sql(database_url, "DELETE FROM idempotency_requests")
    other = book(client, {**body, "items": [hotel_item(nights=3)]}, "trip-to-goa")

    assert (again.status_code, again.json["id"]) == (202, first.json["id"])
    assert_problem(other, 422, "idempotency_key_reused")
    assert booking_ids(database_url) == [uuid.UUID(first.json["id"])]
    assert reserve_commands(database_url) == 1


# Paying and cancelling -----------------------------------------------------------------------------------------


def reserved_booking(client: FlaskClient, desk: SagaDesk) -> uuid.UUID:
    booking_id = uuid.UUID(book(client, trip(payment=None), str(uuid.uuid4())).json["id"])
    desk.reserved(booking_id)
    return booking_id


@pytest.mark.parametrize(
    ("action", "body"), [("pay", {"method": "wallet"}), ("cancel", {"reason": "plans changed"})], ids=["pay", "cancel"]
)
def test_paying_and_cancelling_need_a_key(client: FlaskClient, desk: SagaDesk, action: str, body: Body) -> None:
    booking_id = reserved_booking(client, desk)

    response = client.post(f"{BOOKINGS}/{booking_id}/{action}", json=body, headers=ASHA)

    assert_problem(response, 400, "idempotency_key_missing")
    assert desk.status(booking_id) == "reserved"


def test_a_retried_payment_is_answered_again_and_asks_for_the_money_once(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = reserved_booking(client, desk)
    path = f"{BOOKINGS}/{booking_id}/pay"
    headers = {**ASHA, "Idempotency-Key": "pay-once"}

    first = client.post(path, json={"method": "wallet"}, headers=headers)
    again = client.post(path, json={"method": "wallet"}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == 1


def test_a_retried_cancellation_is_answered_again_and_releases_once(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = reserved_booking(client, desk)
    path = f"{BOOKINGS}/{booking_id}/cancel"
    headers = {**ASHA, "Idempotency-Key": "cancel-once"}

    first = client.post(path, json={"reason": "plans changed"}, headers=headers)
    again = client.post(path, json={"reason": "plans changed"}, headers=headers)
    other = client.post(path, json={"reason": "found a cheaper bus"}, headers=headers)

    assert (first.status_code, first.json["status"]) == (202, "cancelled")
    assert (again.status_code, again.json) == (202, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "idempotency_key_reused")
    assert desk.command_subjects(booking_id).count("inventory.cmd.release") == 1


def test_a_key_used_to_book_cannot_pay(client: FlaskClient, desk: SagaDesk) -> None:
    """Keys are per customer, not per path: the same key on another request is a different request."""
    first = book(client, trip(payment=None), "my-key")
    booking_id = uuid.UUID(first.json["id"])
    desk.reserved(booking_id)

    response = client.post(
        f"{BOOKINGS}/{booking_id}/pay", json={"method": "wallet"}, headers={**ASHA, "Idempotency-Key": "my-key"}
    )

    assert_problem(response, 422, "idempotency_key_reused")
    assert desk.status(booking_id) == "reserved"


def test_a_refused_payment_is_answered_again_under_its_key_even_once_paying_became_possible(
    client: FlaskClient, desk: SagaDesk
) -> None:
    booking_id = uuid.UUID(book(client, trip(payment=None), "trip").json["id"])
    path, headers = f"{BOOKINGS}/{booking_id}/pay", {**ASHA, "Idempotency-Key": "pay-early"}
    refused = client.post(path, json={"method": "wallet"}, headers=headers)
    desk.reserved(booking_id)

    again = client.post(path, json={"method": "wallet"}, headers=headers)
    fresh = client.post(path, json={"method": "wallet"}, headers={**ASHA, "Idempotency-Key": "pay-now"})

    assert_problem(refused, 409, "invalid_state")
    assert (again.status_code, again.headers.get("Idempotent-Replayed"), again.json) == (409, "true", refused.json)
    assert fresh.status_code == 202


def test_a_payment_whose_answer_was_lost_is_answered_with_the_booking_when_retried(
    client: FlaskClient, desk: SagaDesk, database_url: str
) -> None:
    """The payment committed, but its answer never reached the replay cache (the process died in between)."""
    booking_id = reserved_booking(client, desk)
    path, headers = f"{BOOKINGS}/{booking_id}/pay", {**ASHA, "Idempotency-Key": "pay-once"}
    client.post(path, json={"method": "wallet"}, headers=headers)
    sql(database_url, "DELETE FROM idempotency_requests")

    again = client.post(path, json={"method": "wallet"}, headers=headers)

    assert (again.status_code, again.json["status"]) == (202, "payment_pending")
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == 1
