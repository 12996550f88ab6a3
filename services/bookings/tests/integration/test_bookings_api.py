"""``/v1/bookings`` as the contract describes it: booking, reading, paying, cancelling, deleting and retrying.

Inventory's and payments' replies are delivered through the saga desk, as bookings' worker would deliver them, so
each test puts a booking exactly where it needs it and then asks the API.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tripline.testing import assert_problem, assert_same_not_found, bearer, outbox_payloads, sql

from ..saga_desk import FARE, RATE, SagaDesk, inr

ASHA = bearer("cust-asha", "customer")
RAVI = bearer("cust-ravi", "customer")
ADMIN = bearer("ops", "admin")
OPERATOR = bearer("konkan", "operator")
OWNER = bearer("seaview", "owner")
BOOKINGS = "/v1/bookings"
BOOKING_FIELDS = {
    "id",
    "customer_id",
    "status",
    "items",
    "total",
    "payment",
    "created_at",
    "reserved_at",
    "expires_at",
    "payment_requested_at",
    "confirmed_at",
    "completed_at",
    "cancelled_at",
    "expired_at",
    "failed_at",
    "deleted_at",
    "failure",
    "refund",
}
PAYERS = 10
TIMESTAMPS = sorted(name for name in BOOKING_FIELDS if name.endswith("_at"))

Body = dict[str, Any]
BookingId = uuid.UUID | str
Response = Any


def night(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=30 + offset)).isoformat()


def bus_seats() -> Body:
    return {
        "type": "bus_seats",
        "schedule_id": str(uuid.uuid4()),
        "seats": ["1A", "1B"],
        "passengers": [{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}],
    }


def hotel_rooms() -> Body:
    return {
        "type": "hotel_rooms",
        "room_type_id": str(uuid.uuid4()),
        "check_in": night(0),
        "check_out": night(2),
        "rooms": 1,
        "guests": 2,
    }


def trip(pay: bool = True) -> Body:
    return {"items": [bus_seats(), hotel_rooms()], "payment": {"method": "wallet"} if pay else None}


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


def book(client: FlaskClient, body: Body | None = None, headers: dict[str, str] = ASHA) -> Response:
    return client.post(BOOKINGS, json=body or trip(), headers=keyed(headers))


def show(client: FlaskClient, booking_id: BookingId, headers: dict[str, str] = ASHA, wait: str = "") -> Response:
    return client.get(f"{BOOKINGS}/{booking_id}", query_string={"wait": wait} if wait else {}, headers=headers)


def pay(client: FlaskClient, booking_id: BookingId, headers: dict[str, str] = ASHA) -> Response:
    return client.post(f"{BOOKINGS}/{booking_id}/pay", json={"method": "wallet"}, headers=keyed(headers))


def cancel(
    client: FlaskClient, booking_id: BookingId, headers: dict[str, str] = ASHA, reason: str = "plans changed"
) -> Response:
    return client.post(f"{BOOKINGS}/{booking_id}/cancel", json={"reason": reason}, headers=keyed(headers))


def delete(client: FlaskClient, booking_id: BookingId, headers: dict[str, str] = ADMIN) -> Response:
    return client.delete(f"{BOOKINGS}/{booking_id}", headers=headers)


def retry(client: FlaskClient, booking_id: BookingId, headers: dict[str, str] = ADMIN) -> Response:
    return client.post(f"{BOOKINGS}/{booking_id}/retry", headers=headers)


def booking_count(database_url: str) -> int:
    return int(sql(database_url, "SELECT count(*) FROM bookings")[0][0])


# Bookings in every status: placed through the API, then moved on by the replies of inventory and payments -------


def placed(client: FlaskClient, pay: bool = True) -> uuid.UUID:
    response = book(client, trip(pay))
    assert response.status_code == 202, response.json
    return uuid.UUID(response.json["id"])


def booking_in(status: str, client: FlaskClient, desk: SagaDesk) -> uuid.UUID:
    """A trip (a bus and a hotel stay) booked through the API and brought to ``status`` as the desk brings one."""
    return desk.booking_in(status, place=lambda pay: placed(client, pay))


# Booking -----------------------------------------------------------------------------------------------------


def test_a_booking_is_accepted_in_pending_with_every_field_of_the_contract(client: FlaskClient) -> None:
    asked = trip()

    response = client.post(BOOKINGS, json=asked, headers=keyed(ASHA))

    assert response.status_code == 202, response.json
    booking = response.json
    assert set(booking) == BOOKING_FIELDS
    assert response.headers["Location"] == f"{BOOKINGS}/{booking['id']}"
    assert uuid.UUID(booking["id"])
    assert (booking["customer_id"], booking["status"]) == ("cust-asha", "pending")
    assert booking["items"] == [item | {"price": None} for item in asked["items"]]
    assert (booking["total"], booking["payment"]) == (None, {"method": "wallet"})
    assert (booking["failure"], booking["refund"]) == (None, None)
    assert datetime.fromisoformat(booking["created_at"]).tzinfo is not None
    assert booking["created_at"].endswith("Z")
    assert {name: booking[name] for name in TIMESTAMPS if name != "created_at"} == dict.fromkeys(
        set(TIMESTAMPS) - {"created_at"}
    )


def test_the_location_shows_the_booking_as_it_was_answered(client: FlaskClient) -> None:
    response = book(client)

    assert client.get(response.headers["Location"], headers=ASHA).json == response.json


def test_a_booking_without_payment_waits_for_the_customer_to_pay(client: FlaskClient, desk: SagaDesk) -> None:
    response = book(client, trip(pay=False))

    assert (response.status_code, response.json["payment"]) == (202, None)
    booking_id = uuid.UUID(response.json["id"])
    desk.reserved(booking_id)
    assert show(client, booking_id).json["status"] == "reserved"


def test_a_booking_asks_inventory_to_hold_every_item(client: FlaskClient, database_url: str) -> None:
    asked = trip()

    response = client.post(BOOKINGS, json=asked, headers=keyed(ASHA))

    [reserve] = outbox_payloads(database_url, "inventory.cmd.reserve")
    assert reserve["booking_id"] == response.json["id"]
    assert [item.get("schedule_id") or item.get("room_type_id") for item in reserve["items"]] == [
        asked["items"][0]["schedule_id"],
        asked["items"][1]["room_type_id"],
    ]


def test_once_held_each_item_has_its_price_and_the_booking_its_total(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("reserved", client, desk)

    booking = show(client, booking_id).json

    assert booking["status"] == "reserved"
    assert [item["price"] for item in booking["items"]] == [inr(2 * FARE).model_dump(), inr(2 * RATE).model_dump()]
    assert booking["total"] == {"amount_minor": 2 * FARE + 2 * RATE, "currency": "INR"}
    assert booking["reserved_at"].endswith("Z")
    assert booking["expires_at"].endswith("Z")


# Who may do what -------------------------------------------------------------------------------------------------

SOME_BOOKING = f"{BOOKINGS}/5b0e2d4a-8f3c-4e21-9a6d-1c7b3e9f0a42"  # a fixed id keeps test ids stable across runs
EVERY_ENDPOINT = [
    ("post", BOOKINGS),
    ("get", BOOKINGS),
    ("get", SOME_BOOKING),
    ("get", f"{SOME_BOOKING}/history"),
    ("post", f"{SOME_BOOKING}/pay"),
    ("post", f"{SOME_BOOKING}/cancel"),
    ("delete", SOME_BOOKING),
    ("post", f"{SOME_BOOKING}/retry"),
]


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic Y3VzdDphc2hh", ASHA["Authorization"].replace("Bearer ", "Token ")],
    ids=["none", "garbage", "basic", "wrong scheme"],
)
def test_every_endpoint_needs_a_valid_token(
    client: FlaskClient, database_url: str, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Idempotency-Key": "k"} | ({"Authorization": authorization} if authorization else {})

    response = client.open(path, method=method, json={}, headers=headers)

    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert booking_count(database_url) == 0


@pytest.mark.parametrize("role", [OPERATOR, OWNER, ADMIN], ids=["operator", "owner", "admin"])
def test_only_customers_book(client: FlaskClient, database_url: str, role: dict[str, str]) -> None:
    response = client.post(BOOKINGS, json=trip(), headers=keyed(role))

    assert_problem(response, 403, "forbidden")
    assert booking_count(database_url) == 0
    assert sql(database_url, "SELECT count(*) FROM idempotency_requests")[0][0] == 0


@pytest.mark.parametrize("role", [OPERATOR, OWNER, ADMIN], ids=["operator", "owner", "admin"])
def test_only_customers_pay(client: FlaskClient, desk: SagaDesk, role: dict[str, str]) -> None:
    booking_id = booking_in("reserved", client, desk)

    response = pay(client, booking_id, headers=role)

    assert_problem(response, 403, "forbidden")
    assert desk.status(booking_id) == "reserved"


@pytest.mark.parametrize("role", [OPERATOR, OWNER], ids=["operator", "owner"])
def test_suppliers_neither_see_nor_cancel_bookings(client: FlaskClient, desk: SagaDesk, role: dict[str, str]) -> None:
    booking_id = booking_in("reserved", client, desk)

    answers = [
        show(client, booking_id, headers=role),
        client.get(f"{BOOKINGS}/{booking_id}/history", headers=role),
        client.get(BOOKINGS, headers=role),
        cancel(client, booking_id, headers=role),
    ]

    for response in answers:
        assert_problem(response, 403, "forbidden")
    assert desk.status(booking_id) == "reserved"


# Reading ---------------------------------------------------------------------------------------------------------


def test_a_customer_reads_their_own_booking(client: FlaskClient) -> None:
    made = book(client).json

    response = show(client, made["id"])

    assert (response.status_code, response.json) == (200, made)


def test_another_customers_booking_is_not_found_just_like_an_unknown_one(client: FlaskClient, desk: SagaDesk) -> None:
    ashas = booking_in("reserved", client, desk)
    unknown = uuid.uuid4()

    for ask in (
        lambda booking_id: show(client, booking_id, headers=RAVI),
        lambda booking_id: show(client, booking_id, headers=RAVI, wait="5"),
        lambda booking_id: client.get(f"{BOOKINGS}/{booking_id}/history", headers=RAVI),
        lambda booking_id: pay(client, booking_id, headers=RAVI),
        lambda booking_id: cancel(client, booking_id, headers=RAVI),
    ):
        not_yours, nothing = ask(ashas), ask(unknown)
        assert_problem(not_yours, 404, "not_found")
        assert_same_not_found(not_yours, nothing)
    assert desk.status(ashas) == "reserved"


def test_an_admin_reads_any_booking(client: FlaskClient, desk: SagaDesk) -> None:
    ashas = booking_in("reserved", client, desk)
    ravis = uuid.UUID(book(client, headers=RAVI).json["id"])

    assert show(client, ashas, headers=ADMIN).json == show(client, ashas).json
    assert show(client, ravis, headers=ADMIN).json["customer_id"] == "cust-ravi"
    assert client.get(f"{BOOKINGS}/{ravis}/history", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("status", ["reserved", "confirmed", "cancelled", "failed"])
def test_waiting_on_a_booking_that_waits_for_nothing_answers_at_once(
    client: FlaskClient, desk: SagaDesk, status: str
) -> None:
    booking_id = booking_in(status, client, desk)

    response = show(client, booking_id, wait="30")

    assert (response.status_code, response.json["status"]) == (200, status)


def test_waiting_answers_with_the_status_a_reply_brings_meanwhile(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = placed(client, pay=False)
    polling = threading.Event()

    def inventory_holds_the_items() -> None:
        polling.wait(timeout=10)
        time.sleep(0.05)  # most likely after the poll's first look: the reply must be seen while it waits
        desk.reserved(booking_id)

    inventory = threading.Thread(target=inventory_holds_the_items)
    inventory.start()
    polling.set()
    response = show(client, booking_id, wait="30")
    inventory.join()

    assert (response.status_code, response.json["status"]) == (200, "reserved")
    assert response.json["total"] is not None


def test_waiting_on_a_booking_nothing_happens_to_answers_with_it_as_it_stands(
    client: FlaskClient, desk: SagaDesk
) -> None:
    booking_id = placed(client)

    response = show(client, booking_id, wait="0.1")

    assert (response.status_code, response.json["status"]) == (200, "pending")


def test_the_history_lists_every_status_change_in_order(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("reserved", client, desk)
    pay(client, booking_id)
    desk.declined(booking_id)
    cancel(client, booking_id, reason="found a cheaper bus")

    response = client.get(f"{BOOKINGS}/{booking_id}/history", headers=ASHA)

    assert response.status_code == 200
    changes = response.json["items"]
    assert all(set(change) == {"from", "to", "at", "reason"} for change in changes)
    assert [(change["from"], change["to"]) for change in changes] == [
        (None, "pending"),
        ("pending", "reserved"),
        ("reserved", "payment_pending"),
        ("payment_pending", "reserved"),
        ("reserved", "cancelled"),
    ]
    moments = [datetime.fromisoformat(change["at"]) for change in changes]
    assert moments == sorted(moments)
    assert all(change["at"].endswith("Z") and change["reason"] for change in changes)
    assert "found a cheaper bus" in changes[-1]["reason"]


# Paying ----------------------------------------------------------------------------------------------------------


def test_paying_a_reserved_booking_asks_payments_for_its_total(
    client: FlaskClient, desk: SagaDesk, database_url: str
) -> None:
    booking_id = booking_in("reserved", client, desk)

    response = pay(client, booking_id)

    assert response.status_code == 202, response.json
    booking = response.json
    assert set(booking) == BOOKING_FIELDS
    assert (booking["status"], booking["payment"]) == ("payment_pending", {"method": "wallet"})
    assert booking["payment_requested_at"].endswith("Z")
    [debit] = outbox_payloads(database_url, "payments.cmd.debit")
    assert (debit["booking_id"], debit["customer_id"]) == (str(booking_id), "cust-asha")
    assert debit["amount"] == booking["total"]


@pytest.mark.parametrize("status", ["pending", "payment_pending", "confirming", "confirmed", "cancelled", "failed"])
def test_paying_a_booking_that_is_not_reserved_is_a_conflict(client: FlaskClient, desk: SagaDesk, status: str) -> None:
    booking_id = booking_in(status, client, desk)
    debits = desk.command_subjects(booking_id).count("payments.cmd.debit")

    response = pay(client, booking_id)

    assert_problem(response, 409, "invalid_state")
    assert desk.status(booking_id) == status
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == debits


def test_paying_past_expires_at_is_refused_as_expired(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("reserved", client, desk)
    desk.set_times(booking_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    response = pay(client, booking_id)

    assert_problem(response, 409, "booking_expired")
    assert desk.status(booking_id) == "reserved"
    assert "payments.cmd.debit" not in desk.command_subjects(booking_id)


def test_simultaneous_payments_under_different_keys_ask_for_the_money_once(app: Flask, desk: SagaDesk) -> None:
    booking_id = booking_in("reserved", app.test_client(), desk)
    start = threading.Barrier(PAYERS)

    def pay_now(_: int) -> Response:
        payer = app.test_client()
        start.wait()
        return pay(payer, booking_id)

    with ThreadPoolExecutor(PAYERS) as pool:
        responses = list(pool.map(pay_now, range(PAYERS)))

    assert sorted(r.status_code for r in responses) == [202] + [409] * (PAYERS - 1)
    assert all(r.json["code"] == "invalid_state" for r in responses if r.status_code == 409)
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == 1
    assert desk.status(booking_id) == "payment_pending"


def test_a_declined_payment_may_be_tried_again_before_expiry(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("payment_pending", client, desk)
    desk.declined(booking_id)
    declined = show(client, booking_id).json

    response = pay(client, booking_id)

    assert (declined["status"], declined["failure"]["code"]) == ("reserved", "insufficient_funds")
    assert (response.status_code, response.json["status"], response.json["failure"]) == (202, "payment_pending", None)
    assert desk.command_subjects(booking_id).count("payments.cmd.debit") == 2


# Cancelling ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "reserved"])
def test_a_customer_cancels_a_booking_not_yet_paid(
    client: FlaskClient, desk: SagaDesk, database_url: str, status: str
) -> None:
    booking_id = booking_in(status, client, desk)

    response = cancel(client, booking_id)

    assert response.status_code == 202, response.json
    assert set(response.json) == BOOKING_FIELDS
    assert (response.json["status"], response.json["refund"]) == ("cancelled", None)
    assert response.json["cancelled_at"].endswith("Z")
    assert [p["booking_id"] for p in outbox_payloads(database_url, "inventory.cmd.release")] == [str(booking_id)]


def test_an_admin_cancels_a_customers_booking(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("reserved", client, desk)

    response = cancel(client, booking_id, headers=ADMIN)

    assert (response.status_code, response.json["status"]) == (202, "cancelled")
    assert show(client, booking_id).json["status"] == "cancelled"


@pytest.mark.parametrize("who", [ASHA, ADMIN], ids=["customer", "admin"])
def test_cancelling_a_confirmed_booking_refunds_it_once_released(
    client: FlaskClient, desk: SagaDesk, who: dict[str, str]
) -> None:
    booking_id = booking_in("confirmed", client, desk)  # departing in three days: everything comes back
    total = show(client, booking_id).json["total"]

    response = cancel(client, booking_id, headers=who)

    assert response.status_code == 202, response.json
    assert (response.json["status"], response.json["refund"], response.json["cancelled_at"]) == (
        "cancelling",
        total,
        None,
    )
    desk.released(booking_id)
    desk.refunded(booking_id, total["amount_minor"])
    settled = show(client, booking_id, wait="5").json
    assert (settled["status"], settled["refund"]) == ("cancelled", total)


@pytest.mark.parametrize("status", ["payment_pending", "confirming", "cancelling", "cancelled", "expired", "failed"])
def test_cancelling_a_booking_that_cannot_be_cancelled_now_is_a_conflict(
    client: FlaskClient, desk: SagaDesk, status: str
) -> None:
    booking_id = booking_in(status, client, desk)

    for who in (ASHA, ADMIN):
        response = cancel(client, booking_id, headers=who)

        assert_problem(response, 409, "invalid_state")
    assert desk.status(booking_id) == status


# Deleting --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "cancelled", "expired", "failed"])
def test_an_admin_deletes_a_booking_that_is_over(client: FlaskClient, desk: SagaDesk, status: str) -> None:
    booking_id = booking_in(status, client, desk)

    response = delete(client, booking_id)

    assert (response.status_code, response.data) == (204, b"")
    kept = show(client, booking_id, headers=ADMIN).json
    assert (kept["status"], kept["deleted_at"][-1]) == (status, "Z")
    assert_same_not_found(show(client, booking_id), show(client, uuid.uuid4()))


def test_a_deleted_booking_is_gone_for_its_customer(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("cancelled", client, desk)
    delete(client, booking_id)
    unknown = uuid.uuid4()

    for ask in (
        lambda booking_id: show(client, booking_id),
        lambda booking_id: client.get(f"{BOOKINGS}/{booking_id}/history", headers=ASHA),
        lambda booking_id: cancel(client, booking_id),
        lambda booking_id: pay(client, booking_id),
    ):
        assert_problem(ask(booking_id), 404, "not_found")
        assert_same_not_found(ask(booking_id), ask(unknown))


def test_deleting_a_deleted_booking_changes_nothing(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("failed", client, desk)
    delete(client, booking_id)
    first = show(client, booking_id, headers=ADMIN).json

    response = delete(client, booking_id)

    assert response.status_code == 204
    assert show(client, booking_id, headers=ADMIN).json == first


@pytest.mark.parametrize("status", ["pending", "reserved", "payment_pending", "confirming", "confirmed", "cancelling"])
def test_a_booking_that_is_not_over_cannot_be_deleted(client: FlaskClient, desk: SagaDesk, status: str) -> None:
    booking_id = booking_in(status, client, desk)

    response = delete(client, booking_id)

    assert_problem(response, 409, "invalid_state")
    assert show(client, booking_id).json["deleted_at"] is None


def test_deleting_an_unknown_booking_is_not_found(client: FlaskClient) -> None:
    assert_problem(delete(client, uuid.uuid4()), 404, "not_found")


def test_a_customer_cannot_delete_even_their_own_booking(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("cancelled", client, desk)

    response = delete(client, booking_id, headers=ASHA)

    assert_problem(response, 403, "forbidden")
    assert show(client, booking_id).json["deleted_at"] is None


# Retrying --------------------------------------------------------------------------------------------------------

AWAITED_STEP = {
    "pending": ["inventory.cmd.reserve"],
    "payment_pending": ["payments.cmd.debit"],
    "confirming": ["inventory.cmd.confirm"],
    "cancelling": ["inventory.cmd.release", "payments.cmd.refund"],
}


@pytest.mark.parametrize("status", AWAITED_STEP)
def test_an_admin_retry_sends_again_the_step_a_booking_waits_for(
    client: FlaskClient, desk: SagaDesk, status: str
) -> None:
    booking_id = booking_in(status, client, desk)
    sent = desk.command_subjects(booking_id)

    response = retry(client, booking_id)

    assert response.status_code == 202, response.json
    assert set(response.json) == BOOKING_FIELDS
    assert (response.json["id"], response.json["status"]) == (str(booking_id), status)
    assert desk.command_subjects(booking_id) == sent + AWAITED_STEP[status]


@pytest.mark.parametrize("status", ["reserved", "confirmed", "completed", "cancelled", "expired", "failed"])
def test_retrying_a_booking_that_waits_for_nothing_is_a_conflict(
    client: FlaskClient, desk: SagaDesk, status: str
) -> None:
    booking_id = booking_in(status, client, desk)
    sent = desk.command_subjects(booking_id)

    response = retry(client, booking_id)

    assert_problem(response, 409, "invalid_state")
    assert desk.command_subjects(booking_id) == sent


def test_a_customer_cannot_retry(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = placed(client)

    response = retry(client, booking_id, headers=ASHA)

    assert_problem(response, 403, "forbidden")
    assert desk.command_subjects(booking_id) == ["inventory.cmd.reserve"]


def test_retrying_an_unknown_booking_is_not_found(client: FlaskClient) -> None:
    assert_problem(retry(client, uuid.uuid4()), 404, "not_found")


def test_an_admin_abandons_a_stuck_payment_and_the_customer_cannot(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = booking_in("payment_pending", client, desk)
    path = f"{BOOKINGS}/{booking_id}/abandon"

    by_customer = client.post(path, headers=ASHA)
    by_admin = client.post(path, headers=ADMIN)
    again = client.post(path, headers=ADMIN)

    assert_problem(by_customer, 403, "forbidden")
    assert (by_admin.status_code, by_admin.json["status"], by_admin.json["failure"]["code"]) == (
        202,
        "failed",
        "abandoned",
    )
    assert_problem(again, 409, "invalid_state")
    assert_problem(client.post(f"{BOOKINGS}/{uuid.uuid4()}/abandon", headers=ADMIN), 404, "not_found")
