"""``GET /v1/bookings``: a customer's own bookings or, for an admin, every booking; newest first, page by page.

Pages follow a keyset cursor, so walking them returns each booking exactly once even while new bookings arrive;
admins alone may filter by customer, see deleted bookings and list the stuck ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tripline.testing import assert_problem, bearer

from ..saga_desk import SagaDesk, bus_item, hotel_item

ASHA = bearer("cust-asha", "customer")
RAVI = bearer("cust-ravi", "customer")
ADMIN = bearer("ops", "admin")
BOOKINGS = "/v1/bookings"

Page = dict[str, Any]


def book(client: FlaskClient, headers: dict[str, str] = ASHA, pay: bool = False) -> uuid.UUID:
    body = {"items": [bus_item(), hotel_item()], "payment": {"method": "wallet"} if pay else None}
    response = client.post(BOOKINGS, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 202, response.json
    return uuid.UUID(response.json["id"])


def book_many(client: FlaskClient, count: int, headers: dict[str, str] = ASHA) -> list[uuid.UUID]:
    """``count`` bookings, newest first (the order every list answers in)."""
    return [book(client, headers) for _ in range(count)][::-1]


def listed(client: FlaskClient, headers: dict[str, str] = ASHA, **query: Any) -> Page:
    response = client.get(BOOKINGS, query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return dict(response.json)


def ids(page: Page) -> list[uuid.UUID]:
    return [uuid.UUID(booking["id"]) for booking in page["items"]]


def pages(client: FlaskClient, headers: dict[str, str] = ASHA, **query: Any) -> Iterator[Page]:
    """Every page of a list, following ``next_cursor`` to the end."""
    page = listed(client, headers, **query)
    yield page
    while page["next_cursor"] is not None:
        page = listed(client, headers, **(query | {"cursor": page["next_cursor"]}))
        yield page


def test_a_customer_lists_only_their_own_bookings_newest_first(client: FlaskClient) -> None:
    ashas = book_many(client, 3)
    ravis = book_many(client, 2, headers=RAVI)

    mine = listed(client)

    assert ids(mine) == ashas
    assert mine["next_cursor"] is None
    assert {booking["customer_id"] for booking in mine["items"]} == {"cust-asha"}
    assert mine["items"][0] == client.get(f"{BOOKINGS}/{ashas[0]}", headers=ASHA).json
    assert ids(listed(client, RAVI)) == ravis


def test_a_customer_without_bookings_gets_an_empty_list(client: FlaskClient) -> None:
    book_many(client, 2, headers=RAVI)

    assert listed(client) == {"items": [], "next_cursor": None}


def test_the_list_filters_by_status(client: FlaskClient, desk: SagaDesk) -> None:
    pending, reserved, cancelled = book_many(client, 3)[::-1]
    desk.reserved(reserved)
    desk.cancel(cancelled)

    assert ids(listed(client, status="pending")) == [pending]
    assert ids(listed(client, status="reserved")) == [reserved]
    assert ids(listed(client, status="cancelled")) == [cancelled]
    assert ids(listed(client, status="confirmed")) == []


def test_pages_return_every_booking_exactly_once_in_order(client: FlaskClient) -> None:
    newest_first = book_many(client, 25)

    walked = list(pages(client, limit=7))

    assert [len(page["items"]) for page in walked] == [7, 7, 7, 4]
    assert [booking_id for page in walked for booking_id in ids(page)] == newest_first
    assert all(page["next_cursor"] for page in walked[:-1])


def test_a_booking_made_while_paging_does_not_shift_the_pages(client: FlaskClient) -> None:
    newest_first = book_many(client, 10)
    first = listed(client, limit=4)

    newer = book(client)
    rest = list(pages(client, limit=4, cursor=first["next_cursor"]))

    assert ids(first) + [booking_id for page in rest for booking_id in ids(page)] == newest_first
    assert newer not in ids(first)
    assert ids(listed(client, limit=1)) == [newer]


def test_a_page_that_holds_the_last_booking_says_no_more_follow(client: FlaskClient) -> None:
    newest_first = book_many(client, 7)

    page = listed(client, limit=7)

    assert (ids(page), page["next_cursor"]) == (newest_first, None)


def test_a_page_holds_20_bookings_unless_told_otherwise(client: FlaskClient) -> None:
    newest_first = book_many(client, 21)

    first = listed(client)

    assert ids(first) == newest_first[:20]
    assert ids(listed(client, cursor=first["next_cursor"])) == newest_first[20:]


def test_a_cursor_pages_through_the_callers_own_bookings_only(client: FlaskClient) -> None:
    """A cursor is a position, not a permission: Ravi following Asha's cursor still sees only his own."""
    ravis = book_many(client, 2, headers=RAVI)
    book_many(client, 3)
    ashas_cursor = listed(client, limit=1)["next_cursor"]

    assert ids(listed(client, RAVI, cursor=ashas_cursor)) == ravis


def test_status_and_pages_combine(client: FlaskClient, desk: SagaDesk) -> None:
    bookings = book_many(client, 9)
    reserved = bookings[::2]
    for booking_id in reserved:
        desk.reserved(booking_id)

    walked = list(pages(client, status="reserved", limit=2))

    assert [booking_id for page in walked for booking_id in ids(page)] == reserved


# Admins ------------------------------------------------------------------------------------------------------


def test_an_admin_lists_every_customers_bookings(client: FlaskClient) -> None:
    ashas = book(client)
    ravis = book(client, headers=RAVI)
    ashas_again = book(client)

    assert ids(listed(client, ADMIN)) == [ashas_again, ravis, ashas]
    assert ids(listed(client, ADMIN, customer_id="cust-ravi")) == [ravis]
    assert ids(listed(client, ADMIN, customer_id="cust-asha", limit=1)) == [ashas_again]
    assert ids(listed(client, ADMIN, customer_id="nobody")) == []


def test_an_admin_pages_through_every_booking(client: FlaskClient) -> None:
    newest_first = [book(client, headers) for _ in range(6) for headers in (ASHA, RAVI)][::-1]

    walked = list(pages(client, ADMIN, limit=5))

    assert [booking_id for page in walked for booking_id in ids(page)] == newest_first


def test_stuck_lists_only_bookings_waiting_past_their_deadline(client: FlaskClient, desk: SagaDesk) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    waiting = book(client)  # pending, but its deadline is still ahead
    stuck_pending = book(client, headers=RAVI)
    stuck_paying = book(client, pay=True)
    reserved = book(client)  # waits for the customer, not for another service
    desk.reserved(stuck_paying)
    desk.reserved(reserved)
    desk.set_times(reserved, expires_at=past)
    for booking_id in (stuck_pending, stuck_paying):
        desk.set_times(booking_id, deadline_at=past)

    assert ids(listed(client, ADMIN, stuck="true")) == [stuck_paying, stuck_pending]
    assert ids(listed(client, ADMIN, stuck="true", customer_id="cust-ravi")) == [stuck_pending]
    assert ids(listed(client, ADMIN, stuck="true", status="payment_pending")) == [stuck_paying]
    assert set(ids(listed(client, ADMIN, stuck="false"))) == {waiting, stuck_pending, stuck_paying, reserved}
    assert desk.count_stuck() == 2


def test_a_retried_booking_is_no_longer_stuck(client: FlaskClient, desk: SagaDesk) -> None:
    booking_id = book(client)
    desk.set_times(booking_id, deadline_at=datetime.now(UTC) - timedelta(minutes=1))
    assert ids(listed(client, ADMIN, stuck="true")) == [booking_id]

    client.post(f"{BOOKINGS}/{booking_id}/retry", headers=ADMIN)

    assert ids(listed(client, ADMIN, stuck="true")) == []


def test_a_deleted_booking_is_listed_only_for_an_admin_who_asks_for_it(client: FlaskClient, desk: SagaDesk) -> None:
    kept, deleted = book_many(client, 2)[::-1]
    desk.cancel(deleted)
    assert client.delete(f"{BOOKINGS}/{deleted}", headers=ADMIN).status_code == 204

    assert ids(listed(client)) == [kept]
    assert ids(listed(client, status="cancelled")) == []
    assert ids(listed(client, ADMIN)) == [kept]
    assert ids(listed(client, ADMIN, include_deleted="true")) == [deleted, kept]
    with_deleted = listed(client, ADMIN, include_deleted="true", status="cancelled")
    assert ids(with_deleted) == [deleted]
    assert with_deleted["items"][0]["deleted_at"] is not None


@pytest.mark.parametrize(
    "query",
    [
        {"customer_id": "cust-ravi"},
        {"customer_id": "cust-asha"},
        {"include_deleted": "true"},
        {"stuck": "true"},
    ],
    ids=["another customer", "themselves", "include_deleted", "stuck"],
)
def test_admin_filters_are_forbidden_to_customers(client: FlaskClient, query: dict[str, str]) -> None:
    book(client)
    book(client, headers=RAVI)

    response = client.get(BOOKINGS, query_string=query, headers=ASHA)

    assert_problem(response, 403, "forbidden")
