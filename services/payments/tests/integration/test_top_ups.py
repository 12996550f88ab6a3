"""Top-ups through the HTTP API: money in once per key, whatever retries, races and refusals happen."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
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
    """The sandbox, remembering every charge and void, and declining while ``declining`` says why.

    ``while_charging`` runs once inside the next charge: what happens elsewhere while the provider works.
    """

    def __init__(self) -> None:
        self.charges: list[ChargeRequest] = []
        self.voids: list[Charge] = []
        self.declining: str | None = None
        self.while_charging: Callable[[], object] | None = None

    def charge(self, request: ChargeRequest) -> Charge:
        self.charges.append(request)
        if self.while_charging is not None:
            during, self.while_charging = self.while_charging, None
            during()
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
    app.extensions["tripline"].close()


def top_up(client: FlaskClient, amount_minor: int, key: str, headers: dict[str, str] = ASHA) -> Any:
    return client.post(TOP_UPS, json={"amount": inr(amount_minor)}, headers={**headers, "Idempotency-Key": key})


def balance(client: FlaskClient, headers: dict[str, str] = ASHA) -> int:
    return int(client.get("/v1/wallets/me", headers=headers).json["balance"]["amount_minor"])


def ledger_transactions(database_url: str) -> int:
    return int(sql(database_url, "SELECT count(*) FROM ledger_transactions")[0][0])


def forget_responses(database_url: str) -> None:
    """What the retention period does: the cached HTTP responses are gone, the ledger stays."""
    sql(database_url, "DELETE FROM idempotency_requests")


def top_ups_kept(database_url: str) -> list[tuple[Any, ...]]:
    """(customer, key, amount, status, failure) of every top-up written down, by customer and key."""
    return sql(
        database_url,
        "SELECT customer_id, idempotency_key, amount, status, failure FROM top_ups"
        " ORDER BY customer_id, idempotency_key",
    )


def provider_key(database_url: str, key: str, customer_id: str = "asha") -> str:
    """The key the provider is told for the current attempt of a customer's top-up."""
    [(found, attempt)] = sql(
        database_url,
        "SELECT id, attempt FROM top_ups WHERE customer_id = %s AND idempotency_key = %s",
        customer_id,
        key,
    )
    return f"{found}:{attempt}"


def fill_ashas_wallet_to(database_url: str, balance_minor: int) -> None:
    sql(database_url, "UPDATE accounts SET balance = %s WHERE customer_id = 'asha'", balance_minor)


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
    # The provider's key is the top-up's own id: never the client's key, which another customer may use too.
    assert charged == ChargeRequest("asha", 250_000, "INR", provider_key(database_url, "first"))
    reference = SandboxProvider().charge(charged).reference
    kept = sql(
        database_url, "SELECT id, kind, amount, scope, idempotency_key, provider_reference FROM ledger_transactions"
    )
    assert kept == [(uuid.UUID(made["id"]), "top_up", 250_000, "top_up:asha", "first", reference)]
    assert top_ups_kept(database_url) == [("asha", "first", 250_000, "succeeded", None)]
    assert sql(database_url, "SELECT transaction_id, provider_reference FROM top_ups") == [
        (uuid.UUID(made["id"]), reference)
    ]


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


def test_keys_belong_to_the_customer_who_sent_them(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    ashas = top_up(client, 1_000, "shared-key")
    ravis = top_up(client, 2_000, "shared-key", headers=RAVI)

    assert ashas.status_code == ravis.status_code == 201
    assert ashas.json["id"] != ravis.json["id"]
    assert (balance(client), balance(client, RAVI)) == (1_000, 2_000)
    # Two charges at the provider, under keys of their own: one customer's key never names another's charge.
    assert [charge.idempotency_key for charge in provider.charges] == [
        provider_key(database_url, "shared-key", "asha"),
        provider_key(database_url, "shared-key", "ravi"),
    ]
    assert len({charge.idempotency_key for charge in provider.charges}) == 2


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


def test_a_top_up_past_the_wallet_limit_is_refused_before_the_card_is_charged_and_leaves_no_trace(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    client.get("/v1/wallets/me", headers=ASHA)
    fill_ashas_wallet_to(database_url, MAX_WALLET_BALANCE_MINOR - 100)
    before = footprint(database_url)

    response = top_up(client, 101, "too-much")

    assert_problem(response, 409, "wallet_limit_exceeded")
    assert footprint(database_url) == before  # no top-up written down, no key kept, no money moved
    assert (provider.charges, provider.voids) == ([], [])
    exactly_full = top_up(client, 100, "too-much")  # the refusal was not kept: the key is free again
    assert exactly_full.status_code == 201, exactly_full.json
    assert exactly_full.json["balance_after"] == inr(MAX_WALLET_BALANCE_MINOR)
    assert len(provider.charges) == 1
    assert provider.voids == []


def overtaken_top_up(client: FlaskClient, provider: RecordingProvider, cashier: Cashier, database_url: str) -> Any:
    """A top-up of 100 into a wallet with room for exactly 100, overtaken while the provider charges it by
    another top-up of 1 that takes the room first."""
    client.get("/v1/wallets/me", headers=ASHA)
    fill_ashas_wallet_to(database_url, MAX_WALLET_BALANCE_MINOR - 100)
    provider.while_charging = lambda: cashier.top_up("asha", 1, key="overtaker")
    return top_up(client, 100, "overtaken")


def test_a_top_up_overtaken_by_another_that_fills_the_wallet_is_voided_and_moves_no_money(
    client: FlaskClient, provider: RecordingProvider, cashier: Cashier, database_url: str
) -> None:
    response = overtaken_top_up(client, provider, cashier, database_url)

    assert_problem(response, 409, "wallet_limit_exceeded")
    [charged] = provider.charges  # the overtaking top-up went through the sandbox
    voided = SandboxProvider().charge(charged)
    assert provider.voids == [voided]
    assert top_ups_kept(database_url) == [
        ("asha", "overtaken", 100, "voided", "wallet limit"),
        ("asha", "overtaker", 1, "succeeded", None),
    ]
    assert sql(database_url, "SELECT provider_reference FROM top_ups WHERE idempotency_key = 'overtaken'") == [
        (voided.reference,)
    ]
    assert sql(database_url, "SELECT idempotency_key, amount FROM ledger_transactions") == [("overtaker", 1)]
    assert balance(client) == MAX_WALLET_BALANCE_MINOR - 99
    # Sent again, the top-up meets the full wallet before any charge.
    assert_problem(top_up(client, 100, "overtaken"), 409, "wallet_limit_exceeded")
    assert (len(provider.charges), len(provider.voids)) == (1, 1)


def test_a_retried_top_up_is_never_paid_with_a_charge_that_was_given_back(
    client: FlaskClient, provider: RecordingProvider, cashier: Cashier, database_url: str
) -> None:
    """A provider answers a repeated key with the charge it already made, voided or not (the provider interface
    asks every call to be idempotent on its key): money in the wallet must come from a charge still standing."""
    assert overtaken_top_up(client, provider, cashier, database_url).status_code == 409
    cashier.debit(uuid.uuid4(), "asha", 1_000)  # the wallet has room again

    retried = top_up(client, 100, "overtaken")

    given_back = {charge.reference for charge in provider.voids}
    paid_with = {
        reference
        for (reference,) in sql(
            database_url, "SELECT provider_reference FROM ledger_transactions WHERE kind = 'top_up'"
        )
    }
    assert not given_back & paid_with, retried.json


def test_a_declined_charge_is_payment_required_and_leaves_the_key_free(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    provider.declining = "The card issuer declined the charge."

    response = top_up(client, 3_000, "card")

    assert_problem(response, 402, "payment_declined")
    assert response.json["detail"] == "The card issuer declined the charge."
    assert top_ups_kept(database_url) == [("asha", "card", 3_000, "declined", "The card issuer declined the charge.")]
    assert ledger_transactions(database_url) == 0
    assert sql(database_url, "SELECT count(*) FROM idempotency_requests") == [(0,)]
    provider.declining = None
    assert top_up(client, 3_000, "card").status_code == 201
    assert balance(client) == 3_000
    assert top_ups_kept(database_url) == [("asha", "card", 3_000, "succeeded", None)]
    assert len(provider.charges) == 2  # the declined top-up was tried again


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
    assert len(provider.charges) == 1  # the top-up was found done: the card is not asked again
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


def test_a_charge_made_while_another_try_of_the_top_up_was_refused_is_given_back(
    client: FlaskClient, provider: RecordingProvider, database_url: str
) -> None:
    # While the provider charges, another try of the same top-up is refused (as a finisher of stale top-ups or a
    # request that outlived its lease would record it): this charge must not be posted over that refusal.
    provider.while_charging = lambda: sql(
        database_url, "UPDATE top_ups SET status = 'voided', failure = 'wallet limit' WHERE idempotency_key = 'late'"
    )

    response = top_up(client, 700, "late")

    assert_problem(response, 409, "top_up_refused")
    [charged] = provider.charges
    assert provider.voids == [SandboxProvider().charge(charged)]
    assert sql(database_url, "SELECT count(*) FROM ledger_transactions") == [(0,)]
    assert balance(client) == 0
