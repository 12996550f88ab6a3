"""Top-ups through the HTTP API: money in once per key, whatever retries, races and refusals happen."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from payments.adapters.providers import Charge, ChargeDeclined, ChargeRequest, SandboxProvider
from payments.bootstrap import build_app
from payments.config import PaymentsSettings
from payments.domain.ledger import MAX_WALLET_BALANCE_MINOR
from tripline.testing import assert_problem, bearer, sql

from ..cashier import Cashier, footprint, inr

ASHA = bearer("asha", "customer")
RAVI = bearer("ravi", "customer")
TOP_UPS = "/v1/wallets/me/top-ups"
RACERS = 20


class RecordingProvider:
    """The sandbox, remembering every charge and void, and declining while ``declining`` says why."""

    def __init__(self) -> None:
        self.charges: list[ChargeRequest] = []
        self.voids: list[Charge] = []
        self.declining: str | None = None

    def charge(self, request: ChargeRequest) -> Charge:
        self.charges.append(request)
        if self.declining is not None:
            raise ChargeDeclined(self.declining)
        return SandboxProvider().charge(request)

    def void(self, charge: Charge) -> None:
        self.voids.append(charge)


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def app(settings: PaymentsSettings, provider: RecordingProvider) -> Iterator[Flask]:
    """The payments app charging through ``provider`` (the ``client`` fixture uses it)."""
    app = build_app(settings, provider)
    yield app
    app.extensions["tripline"].engine.dispose()


def top_up(client: FlaskClient, amount_minor: int, key: str, headers: dict[str, str] = ASHA) -> Any:
    return client.post(TOP_UPS, json={"amount": inr(amount_minor)}, headers={**headers, "Idempotency-Key": key})


def balance(client: FlaskClient, headers: dict[str, str] = ASHA) -> int:
    return int(client.get("/v1/wallets/me", headers=headers).json["balance"]["amount_minor"])


def ledger_transactions(database_url: str) -> int:
    return int(sql(database_url, "SELECT count(*) FROM ledger_transactions")[0][0])


def forget_responses(database_url: str) -> None:
    """What the retention period does: the cached HTTP responses are gone, the ledger stays."""
    sql(database_url, "DELETE FROM idempotency_requests")


def test_a_top_up_puts_the_money_in_the_wallet_and_says_where_the_transaction_is(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    response = top_up(client, 250_000, "first")

    assert response.status_code == 201, response.json
    made = response.json
    assert (made["kind"], made["amount"], made["balance_after"]) == ("top_up", inr(250_000), inr(250_000))
    assert (made["booking_id"], made["reason"]) == (None, None)
    assert made["created_at"].endswith("Z")
    assert "Idempotent-Replayed" not in response.headers
    assert response.headers["Location"] == f"/v1/wallets/me/transactions/{made['id']}"
    assert client.get(response.headers["Location"], headers=ASHA).json == made
    assert balance(client) == 250_000
    [charged] = provider.charges
    assert charged == ChargeRequest("asha", 250_000, "INR", "first")
    kept = sql(database_url, "SELECT kind, amount, scope, provider_reference FROM ledger_transactions")
    assert kept == [("top_up", 250_000, "account:asha", SandboxProvider().charge(charged).reference)]


def test_each_top_up_reports_the_balance_it_left(client: FlaskClient, cashier: Cashier) -> None:
    assert top_up(client, 1_000, "a").json["balance_after"] == inr(1_000)
    assert top_up(client, 2_500, "b").json["balance_after"] == inr(3_500)
    cashier.debit(uuid.uuid4(), "asha", 3_000)
    assert top_up(client, 100, "c").json["balance_after"] == inr(600)


def test_a_retried_top_up_is_answered_again_and_charged_once(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    first = top_up(client, 5_000, "retry-me")

    again = top_up(client, 5_000, "retry-me")

    assert (again.status_code, again.json) == (201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert balance(client) == 5_000
    assert len(provider.charges) == 1
    assert ledger_transactions(database_url) == 1


def test_the_same_key_for_a_different_top_up_is_refused(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    top_up(client, 5_000, "once")

    response = top_up(client, 6_000, "once")

    assert_problem(response, 422, "idempotency_key_reused")
    assert balance(client) == 5_000
    assert len(provider.charges) == 1
    assert ledger_transactions(database_url) == 1


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": ""}], ids=["absent", "empty"])
def test_a_top_up_without_a_key_is_refused_and_writes_nothing(
    client: FlaskClient, provider: RecordingProvider, database_url: str, headers: dict[str, str]
) -> None:
    before = footprint(database_url)

    response = client.post(TOP_UPS, json={"amount": inr(1_000)}, headers={**ASHA, **headers})

    assert_problem(response, 400, "idempotency_key_missing")
    assert footprint(database_url) == before
    assert provider.charges == []


def test_a_key_may_be_255_characters_long_but_no_longer(client: FlaskClient, database_url: str) -> None:
    too_long = top_up(client, 1_000, "k" * 256)

    assert_problem(too_long, 400, "validation_failed")
    assert [error["field"] for error in too_long.json["errors"]] == ["Idempotency-Key"]
    assert ledger_transactions(database_url) == 0
    assert top_up(client, 1_000, "k" * 255).status_code == 201


def test_keys_belong_to_the_customer_who_sent_them(client: FlaskClient) -> None:
    ashas = top_up(client, 1_000, "shared-key")
    ravis = top_up(client, 2_000, "shared-key", headers=RAVI)

    assert ashas.status_code == ravis.status_code == 201
    assert ashas.json["id"] != ravis.json["id"]
    assert (balance(client), balance(client, RAVI)) == (1_000, 2_000)


def test_twenty_simultaneous_top_ups_with_one_key_move_the_money_once(
    app: Flask, client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    start = threading.Barrier(RACERS)

    def race(_: int) -> Any:
        racer = app.test_client()
        start.wait()
        return top_up(racer, 7_700, "one-key")

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(race, range(RACERS)))

    made = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(made) == 1
    assert len(made) + len(replayed) + len(in_use) == RACERS, [(r.status_code, r.json) for r in responses]
    assert all(r.json == made[0].json for r in replayed)
    assert all(r.json["code"] == "idempotency_key_in_use" and int(r.headers["Retry-After"]) >= 1 for r in in_use)
    assert ledger_transactions(database_url) == 1
    assert len(provider.charges) == 1
    assert balance(client) == 7_700


def test_a_top_up_past_the_wallet_limit_is_refused_voided_and_leaves_no_trace(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    client.get("/v1/wallets/me", headers=ASHA)
    sql(database_url, "UPDATE accounts SET balance = %s WHERE customer_id = 'asha'", MAX_WALLET_BALANCE_MINOR - 100)
    before = footprint(database_url)

    response = top_up(client, 101, "too-much")

    assert_problem(response, 409, "wallet_limit_exceeded")
    assert footprint(database_url) == before
    [charged] = provider.charges
    assert provider.voids == [SandboxProvider().charge(charged)]
    exactly_full = top_up(client, 100, "too-much")  # the refusal was not kept: the key is free again
    assert exactly_full.status_code == 201, exactly_full.json
    assert exactly_full.json["balance_after"] == inr(MAX_WALLET_BALANCE_MINOR)


def test_a_declined_charge_is_payment_required_and_leaves_the_key_free(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    provider.declining = "The card issuer declined the charge."
    before = footprint(database_url)

    response = top_up(client, 3_000, "card")

    assert_problem(response, 402, "payment_declined")
    assert response.json["detail"] == "The card issuer declined the charge."
    assert footprint(database_url) == before
    provider.declining = None
    assert top_up(client, 3_000, "card").status_code == 201
    assert balance(client) == 3_000


def test_a_retry_after_the_cached_response_is_gone_finds_the_same_top_up(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    first = top_up(client, 4_000, "long-ago")
    forget_responses(database_url)

    retried = top_up(client, 4_000, "long-ago")

    assert retried.status_code == 201, retried.json
    assert retried.json == first.json
    assert retried.headers["Location"] == first.headers["Location"]
    assert balance(client) == 4_000
    assert ledger_transactions(database_url) == 1
    assert provider.voids == []


def test_a_retry_after_the_cached_response_is_gone_with_another_amount_is_refused(
    client: FlaskClient, database_url: str
) -> None:
    top_up(client, 4_000, "long-ago")
    forget_responses(database_url)

    response = top_up(client, 4_500, "long-ago")

    assert_problem(response, 422, "idempotency_key_reused")
    assert balance(client) == 4_000
    assert ledger_transactions(database_url) == 1


def test_a_retry_after_the_cached_response_is_gone_finds_its_top_up_even_when_the_wallet_is_nearly_full(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    """The charge the retry meets is the one the wallet already holds: it must not be given back."""
    first = top_up(client, 4_000, "long-ago")
    forget_responses(database_url)
    sql(database_url, "UPDATE accounts SET balance = %s WHERE customer_id = 'asha'", MAX_WALLET_BALANCE_MINOR - 10)

    retried = top_up(client, 4_000, "long-ago")

    assert (retried.status_code, retried.json) == (201, first.json)
    assert provider.voids == []
    assert ledger_transactions(database_url) == 1
