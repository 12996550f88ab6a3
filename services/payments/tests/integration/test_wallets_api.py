"""Wallets through the HTTP API: a customer's own wallet and history, admins' views and credits, who may see what."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from tripline.testing import assert_problem, assert_same_not_found, bearer, sql

from ..cashier import Cashier, inr

ASHA = bearer("asha", "customer")
RAVI = bearer("ravi", "customer")
ADMIN = bearer("admin-1", "admin")
TRANSACTION_KEYS = {"id", "kind", "amount", "booking_id", "created_at", "balance_after", "reason"}
SOME_ID = uuid.uuid4()
OWN_ROUTES = (
    ("GET", "/v1/wallets/me"),
    ("POST", "/v1/wallets/me/top-ups"),
    ("GET", "/v1/wallets/me/transactions"),
    ("GET", f"/v1/wallets/me/transactions/{SOME_ID}"),
)
ADMIN_ROUTES = (
    ("GET", "/v1/wallets/asha"),
    ("GET", "/v1/wallets/asha/transactions"),
    ("GET", f"/v1/wallets/asha/transactions/{SOME_ID}"),
    ("POST", "/v1/wallets/asha/credits"),
)


def with_key(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


def top_up(client: FlaskClient, amount_minor: int, headers: dict[str, str] = ASHA) -> Any:
    response = client.post("/v1/wallets/me/top-ups", json={"amount": inr(amount_minor)}, headers=with_key(headers))
    assert response.status_code == 201, response.json
    return response.json


def credit(client: FlaskClient, customer_id: str, amount_minor: int, reason: str = "delayed bus", **kw: Any) -> Any:
    body = {"amount": inr(amount_minor), "reason": reason}
    return client.post(f"/v1/wallets/{customer_id}/credits", json=body, headers=with_key(ADMIN, kw.get("key")))


def transactions(client: FlaskClient, path: str, headers: dict[str, str], **query: Any) -> Any:
    response = client.get(path, query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def cursor_of(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def call(client: FlaskClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {"amount": inr(100), "reason": "goodwill"} if method == "POST" else None
    return client.open(path, method=method, json=body, headers=with_key(headers))


# A customer's own wallet -----------------------------------------------------------------------------------------


def test_a_new_customer_has_a_zero_wallet_in_inr(client: FlaskClient, database_url: str) -> None:
    response = client.get("/v1/wallets/me", headers=ASHA)

    assert response.status_code == 200, response.json
    wallet = response.json
    assert set(wallet) == {"customer_id", "balance", "updated_at"}
    assert (wallet["customer_id"], wallet["balance"]) == ("asha", inr(0))
    assert wallet["updated_at"].endswith("Z")
    assert sql(database_url, "SELECT balance FROM accounts WHERE customer_id = 'asha'") == [(0,)]
    assert client.get("/v1/wallets/me", headers=ASHA).json == wallet  # opening it again changes nothing


def test_the_wallet_holds_what_was_topped_up_and_credited(client: FlaskClient) -> None:
    top_up(client, 250_000)
    assert credit(client, "asha", 10_000).status_code == 201

    assert client.get("/v1/wallets/me", headers=ASHA).json["balance"] == inr(260_000)
    assert client.get("/v1/wallets/me", headers=RAVI).json["balance"] == inr(0)


def test_a_customer_without_a_wallet_has_an_empty_history(client: FlaskClient, database_url: str) -> None:
    assert transactions(client, "/v1/wallets/me/transactions", ASHA) == {"items": [], "next_cursor": None}
    assert sql(database_url, "SELECT count(*) FROM accounts") == [(0,)]  # reading opens nothing


def test_history_shows_every_kind_newest_first_with_the_balance_each_left(
    client: FlaskClient, cashier: Cashier
) -> None:
    booking_id = uuid.uuid4()
    top_up(client, 5_000)
    credit(client, "asha", 1_000, reason="lost luggage")
    cashier.debit(booking_id, "asha", 4_000)
    cashier.refund(booking_id, 1_500, reason="cancelled")

    items = transactions(client, "/v1/wallets/me/transactions", ASHA)["items"]

    assert all(set(item) == TRANSACTION_KEYS for item in items)
    seen = [(i["kind"], i["amount"]["amount_minor"], i["balance_after"]["amount_minor"], i["reason"]) for i in items]
    assert seen == [
        ("refund", 1_500, 3_500, "cancelled"),
        ("debit", 4_000, 2_000, None),
        ("credit", 1_000, 6_000, "lost luggage"),
        ("top_up", 5_000, 5_000, None),
    ]
    assert [item["booking_id"] for item in items] == [str(booking_id), str(booking_id), None, None]
    assert all(item["created_at"].endswith("Z") and item["amount"]["currency"] == "INR" for item in items)


def test_one_transaction_reads_as_it_does_in_the_history(client: FlaskClient) -> None:
    made = top_up(client, 7_500)

    response = client.get(f"/v1/wallets/me/transactions/{made['id']}", headers=ASHA)

    assert response.status_code == 200, response.json
    assert response.json == made == transactions(client, "/v1/wallets/me/transactions", ASHA)["items"][0]


def test_a_customer_cannot_read_someone_elses_transaction(client: FlaskClient) -> None:
    theirs = top_up(client, 1_000, headers=RAVI)

    not_mine = client.get(f"/v1/wallets/me/transactions/{theirs['id']}", headers=ASHA)
    unknown = client.get(f"/v1/wallets/me/transactions/{uuid.uuid4()}", headers=ASHA)

    assert_problem(not_mine, 404, "not_found")
    assert_same_not_found(not_mine, unknown)
    assert transactions(client, "/v1/wallets/me/transactions", ASHA)["items"] == []


def test_a_transaction_id_that_is_not_a_uuid_is_not_found(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/wallets/me/transactions/not-a-uuid", headers=ASHA), 404, "not_found")


# Pages -----------------------------------------------------------------------------------------------------------


def test_pages_return_every_transaction_exactly_once_newest_first(client: FlaskClient, cashier: Cashier) -> None:
    for amount in range(100, 800, 100):
        cashier.top_up("asha", amount)

    pages, cursor = [], None
    while True:
        page = transactions(
            client, "/v1/wallets/me/transactions", ASHA, limit=3, **({"cursor": cursor} if cursor else {})
        )
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [item for page in pages for item in page]
    assert [item["amount"]["amount_minor"] for item in listed] == list(range(700, 0, -100))
    assert len({item["id"] for item in listed}) == 7
    assert [item["balance_after"]["amount_minor"] for item in listed][:2] == [2_800, 2_100]


def test_a_page_that_ends_exactly_at_the_last_transaction_has_no_next_cursor(
    client: FlaskClient, cashier: Cashier
) -> None:
    for amount in (100, 200):
        cashier.top_up("asha", amount)

    page = transactions(client, "/v1/wallets/me/transactions", ASHA, limit=2)

    assert (len(page["items"]), page["next_cursor"]) == (2, None)


def test_the_kind_filter_keeps_only_that_kind_across_pages(client: FlaskClient, cashier: Cashier) -> None:
    for amount in (100, 200, 300):
        cashier.top_up("asha", amount)
        credit(client, "asha", amount + 1)
    cashier.debit(uuid.uuid4(), "asha", 50)

    first = transactions(client, "/v1/wallets/me/transactions", ASHA, kind="top_up", limit=2)
    rest = transactions(client, "/v1/wallets/me/transactions", ASHA, kind="top_up", cursor=first["next_cursor"])
    debits = transactions(client, "/v1/wallets/me/transactions", ASHA, kind="debit")["items"]

    top_ups = first["items"] + rest["items"]
    assert [(item["kind"], item["amount"]["amount_minor"]) for item in top_ups] == [
        ("top_up", 300),
        ("top_up", 200),
        ("top_up", 100),
    ]
    assert rest["next_cursor"] is None
    assert [item["kind"] for item in debits] == ["debit"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "bm90LWpzb24",  # "not-json"
        cursor_of([1]),
        cursor_of({"before_entry": 0}),
        cursor_of({"before_entry": 10**30}),
        cursor_of({"page": 2}),
    ],
    ids=["bad-alphabet", "not-json", "not-an-object", "zero", "beyond-any-entry-id", "foreign-position"],
)
def test_a_cursor_this_api_did_not_issue_is_refused(client: FlaskClient, cursor: str) -> None:
    response = client.get("/v1/wallets/me/transactions", query_string={"cursor": cursor}, headers=ASHA)

    assert_problem(response, 400, "invalid_cursor", "cursor")


def test_a_cursor_may_name_the_largest_entry_id_the_ledger_can_hold(client: FlaskClient) -> None:
    made = top_up(client, 1_000)

    page = transactions(client, "/v1/wallets/me/transactions", ASHA, cursor=cursor_of({"before_entry": 2**63 - 1}))

    assert page == {"items": [made], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"), ({"kind": "gift"}, "kind")],
)
def test_a_page_outside_the_contract_is_refused(client: FlaskClient, query: dict[str, Any], field: str) -> None:
    client.get("/v1/wallets/me", headers=ASHA)
    for path, headers in (("/v1/wallets/me/transactions", ASHA), ("/v1/wallets/asha/transactions", ADMIN)):
        response = client.get(path, query_string=query, headers=headers)
        assert_problem(response, 400, "validation_failed", field)


def test_a_page_of_one_hundred_is_allowed(client: FlaskClient) -> None:
    assert transactions(client, "/v1/wallets/me/transactions", ASHA, limit=100)["items"] == []


# Admins ------------------------------------------------------------------------------------------------------------


def test_an_admin_sees_a_customers_wallet_and_top_ups(client: FlaskClient) -> None:
    made = top_up(client, 42_000)

    wallet = client.get("/v1/wallets/asha", headers=ADMIN)
    history = transactions(client, "/v1/wallets/asha/transactions", ADMIN)
    one = client.get(f"/v1/wallets/asha/transactions/{made['id']}", headers=ADMIN)

    assert wallet.status_code == 200, wallet.json
    assert wallet.json == client.get("/v1/wallets/me", headers=ASHA).json
    assert wallet.json["balance"] == inr(42_000)
    assert history == {"items": [made], "next_cursor": None}
    assert (one.status_code, one.json) == (200, made)


def test_an_admin_gets_not_found_for_a_wallet_never_used(client: FlaskClient, database_url: str) -> None:
    assert_problem(client.get("/v1/wallets/nobody", headers=ADMIN), 404, "not_found")
    assert_problem(client.get("/v1/wallets/nobody/transactions", headers=ADMIN), 404, "not_found")
    assert_problem(client.get(f"/v1/wallets/nobody/transactions/{uuid.uuid4()}", headers=ADMIN), 404, "not_found")
    assert sql(database_url, "SELECT count(*) FROM accounts") == [(0,)]  # looking opens no wallet


def test_an_admin_reads_a_transaction_only_under_the_customer_it_belongs_to(client: FlaskClient) -> None:
    ashas = top_up(client, 1_000)
    top_up(client, 2_000, headers=RAVI)

    wrong_customer = client.get(f"/v1/wallets/ravi/transactions/{ashas['id']}", headers=ADMIN)
    unknown = client.get(f"/v1/wallets/ravi/transactions/{uuid.uuid4()}", headers=ADMIN)

    assert_problem(wrong_customer, 404, "not_found")
    assert_same_not_found(wrong_customer, unknown)


def test_an_admin_credit_shows_its_reason_to_the_admin_and_the_customer(client: FlaskClient, database_url: str) -> None:
    top_up(client, 3_000)

    response = credit(client, "asha", 1_200, reason="Bus left two hours late")

    assert response.status_code == 201, response.json
    made = response.json
    assert set(made) == TRANSACTION_KEYS
    assert (made["kind"], made["amount"], made["balance_after"]) == ("credit", inr(1_200), inr(4_200))
    assert (made["reason"], made["booking_id"]) == ("Bus left two hours late", None)
    assert response.headers["Location"] == f"/v1/wallets/asha/transactions/{made['id']}"
    assert client.get(response.headers["Location"], headers=ADMIN).json == made
    assert client.get(f"/v1/wallets/me/transactions/{made['id']}", headers=ASHA).json == made
    kept = sql(database_url, "SELECT scope, reason FROM ledger_transactions WHERE id = %s", made["id"])
    assert kept == [("credit:admin-1", "Bus left two hours late")]


def test_a_credit_opens_the_wallet_of_a_customer_who_never_used_one(client: FlaskClient) -> None:
    response = credit(client, "newcomer", 500, reason="  welcome  ")

    assert response.status_code == 201, response.json
    assert response.json["reason"] == "welcome"
    assert client.get("/v1/wallets/newcomer", headers=ADMIN).json["balance"] == inr(500)


def test_a_retried_credit_is_answered_again_without_crediting_twice(client: FlaskClient, database_url: str) -> None:
    first = credit(client, "asha", 900, key="credit-1")

    again = credit(client, "asha", 900, key="credit-1")
    other_customer = credit(client, "ravi", 900, key="credit-1")
    other_amount = credit(client, "asha", 901, key="credit-1")

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert_problem(other_customer, 422, "idempotency_key_reused")
    assert_problem(other_amount, 422, "idempotency_key_reused")
    assert client.get("/v1/wallets/asha", headers=ADMIN).json["balance"] == inr(900)
    assert sql(database_url, "SELECT count(*) FROM ledger_transactions") == [(1,)]


def test_a_credit_retried_after_its_cached_response_is_gone_finds_the_same_credit(
    client: FlaskClient, database_url: str
) -> None:
    first = credit(client, "asha", 700, key="old-credit")
    sql(database_url, "DELETE FROM idempotency_requests")

    retried = credit(client, "asha", 700, key="old-credit")
    sql(database_url, "DELETE FROM idempotency_requests")
    other_amount = credit(client, "asha", 800, key="old-credit")

    assert (retried.status_code, retried.json) == (201, first.json)
    assert_problem(other_amount, 422, "idempotency_key_reused")
    assert client.get("/v1/wallets/asha", headers=ADMIN).json["balance"] == inr(700)
    assert sql(database_url, "SELECT count(*) FROM ledger_transactions") == [(1,)]


@pytest.mark.parametrize("customer_id", ["asha rao", "आशा", "team#7", "who?"])
def test_a_credits_location_leads_to_it_whatever_the_customer_id(client: FlaskClient, customer_id: str) -> None:
    """Token subjects are any text up to 64 characters; the Location must still name the transaction."""
    response = credit(client, quote(customer_id, safe=""), 250)
    assert response.status_code == 201, response.json

    followed = client.get(response.headers["Location"], headers=ADMIN)

    assert (followed.status_code, followed.json) == (200, response.json)


def test_two_admins_may_use_the_same_key(client: FlaskClient) -> None:
    body = {"amount": inr(300), "reason": "goodwill"}
    for admin in ("admin-1", "admin-2"):
        headers = with_key(bearer(admin, "admin"), "same-key")
        assert client.post("/v1/wallets/asha/credits", json=body, headers=headers).status_code == 201

    assert client.get("/v1/wallets/asha", headers=ADMIN).json["balance"] == inr(600)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/wallets/{customer}"),
        ("GET", "/v1/wallets/{customer}/transactions"),
        ("GET", f"/v1/wallets/{{customer}}/transactions/{SOME_ID}"),
        ("POST", "/v1/wallets/{customer}/credits"),
    ],
)
def test_a_customer_id_no_token_could_carry_is_refused(
    client: FlaskClient, database_url: str, method: str, path: str
) -> None:
    for customer in ("c" * 65, "bell%07"):
        assert_problem(call(client, method, path.format(customer=customer), ADMIN), 400, "validation_failed")

    longest = call(client, method, path.format(customer="c" * 64), ADMIN)
    assert longest.status_code == (201 if method == "POST" else 404), longest.json
    assert sql(database_url, "SELECT count(*) FROM idempotency_requests WHERE path LIKE '%%cccc%%'") == [
        (1 if method == "POST" else 0,)
    ]


# Who may call what -------------------------------------------------------------------------------------------------


def test_every_wallet_route_needs_a_token(client: FlaskClient) -> None:
    for method, path in OWN_ROUTES + ADMIN_ROUTES:
        response = client.open(path, method=method, json={"amount": inr(100)}, headers={"Idempotency-Key": "k"})
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), path


def test_a_token_that_does_not_verify_is_refused(client: FlaskClient) -> None:
    forged = {"Authorization": ASHA["Authorization"][:-4] + "AAAA"}

    response = client.get("/v1/wallets/me", headers=forged)

    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("role", ["operator", "owner", "admin"])
def test_only_customers_have_their_own_wallet(client: FlaskClient, database_url: str, role: str) -> None:
    for method, path in OWN_ROUTES:
        assert_problem(call(client, method, path, bearer("someone", role)), 403, "forbidden")
    assert sql(database_url, "SELECT count(*) FROM accounts") == [(0,)]


@pytest.mark.parametrize("role", ["customer", "operator", "owner"])
def test_only_admins_see_and_credit_other_wallets(client: FlaskClient, database_url: str, role: str) -> None:
    top_up(client, 1_000)

    for method, path in ADMIN_ROUTES:
        assert_problem(call(client, method, path, bearer("asha", role)), 403, "forbidden")
    assert client.get("/v1/wallets/me", headers=ASHA).json["balance"] == inr(1_000)
    assert sql(database_url, "SELECT count(*) FROM ledger_transactions") == [(1,)]
