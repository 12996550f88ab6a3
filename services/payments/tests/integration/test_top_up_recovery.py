"""Top-ups whose request died before the money reached the wallet: the worker finishes each one, once.

A top-up is written down before the provider charges, so a request that dies between the charge and the ledger
leaves a pending top-up behind. The worker's ``finish_stale_top_ups`` asks the provider again under the same key
(answered with the charge already made) and posts the money once, however many workers and retries race it.
"""

from __future__ import annotations

import threading
from collections import Counter
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
from payments.service_layer.top_ups import finish_stale_top_ups, top_up
from tripline.testing import bearer, sql

from ..cashier import CURRENCY, Cashier, inr

CUSTOMER = "cust-meera"
MEERA = bearer(CUSTOMER, "customer")
FINISHERS = 4


class Gateway:
    """The provider as recovery meets it: a repeated key is answered with the charge already made (the sandbox's
    reference is derived from the key); every call is recorded; it can fail the ways a request dies."""

    def __init__(self) -> None:
        self.charges: list[ChargeRequest] = []
        self.voids: list[Charge] = []
        self.declining: str | None = None
        self.crash_after_charging = False  # the charge is made, then the process dies
        self.unreachable = False  # the charge never reaches the provider

    def charge(self, request: ChargeRequest) -> Charge:
        if self.unreachable:
            raise ConnectionError("the provider did not answer")
        self.charges.append(request)
        if self.declining is not None:
            raise ChargeDeclined(self.declining)
        charge = SandboxProvider().charge(request)
        if self.crash_after_charging:
            raise RuntimeError("the request died after the provider charged")
        return charge

    def void(self, charge: Charge) -> None:
        self.voids.append(charge)

    def keys_charged(self) -> Counter[str]:
        """How many times the provider was asked under each key."""
        return Counter(request.idempotency_key for request in self.charges)


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def app(settings: PaymentsSettings, gateway: Gateway) -> Iterator[Flask]:
    """The payments app charging through ``gateway`` (the ``client`` fixture uses it)."""
    app = build_app(settings, gateway)
    yield app
    app.extensions["tripline"].close()


def died_after_charging(
    cashier: Cashier, gateway: Gateway, amount_minor: int, key: str, customer_id: str = CUSTOMER
) -> None:
    """A top-up charged at the provider whose request died before the wallet got the money."""
    gateway.crash_after_charging = True
    with pytest.raises(RuntimeError):
        top_up(cashier.unit_of_work, gateway, customer_id, amount_minor, CURRENCY, key)
    gateway.crash_after_charging = False


def died_before_the_provider_answered(cashier: Cashier, gateway: Gateway, amount_minor: int, key: str) -> None:
    """A top-up written down whose request died before the provider charged anything."""
    gateway.unreachable = True
    with pytest.raises(ConnectionError):
        top_up(cashier.unit_of_work, gateway, CUSTOMER, amount_minor, CURRENCY, key)
    gateway.unreachable = False


def age(database_url: str) -> None:
    """Let the recovery period pass for every top-up written down so far."""
    sql(database_url, "UPDATE top_ups SET updated_at = now() - interval '10 minutes'")


def finish(cashier: Cashier, gateway: Gateway, settings: PaymentsSettings) -> int:
    """One run of the worker's finisher, with the service's recovery period."""
    return finish_stale_top_ups(cashier.unit_of_work, gateway, settings.top_up_recovery_seconds)


def top_ups_kept(database_url: str) -> list[tuple[Any, ...]]:
    """(key, amount, status, failure) of every top-up, by key."""
    return sql(database_url, "SELECT idempotency_key, amount, status, failure FROM top_ups ORDER BY idempotency_key")


def ledger(database_url: str) -> list[tuple[Any, ...]]:
    """(id, kind, amount, scope, key, provider reference) of every ledger transaction, by key."""
    return sql(
        database_url,
        "SELECT id, kind, amount, scope, idempotency_key, provider_reference FROM ledger_transactions"
        " ORDER BY idempotency_key",
    )


def test_a_top_up_whose_request_died_after_the_charge_is_put_in_the_wallet_once(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_after_charging(cashier, gateway, 4_000, "died")
    assert top_ups_kept(database_url) == [("died", 4_000, "pending", None)]
    age(database_url)

    assert finish(cashier, gateway, settings) == 1

    assert cashier.balance(CUSTOMER) == 4_000
    [(top_up_id, transaction_id, reference)] = sql(
        database_url, "SELECT id, transaction_id, provider_reference FROM top_ups"
    )
    assert top_ups_kept(database_url) == [("died", 4_000, "succeeded", None)]
    assert ledger(database_url) == [(transaction_id, "top_up", 4_000, f"top_up:{CUSTOMER}", "died", reference)]
    # Asked again under the same key, the provider answered with the charge the dead request made.
    assert gateway.keys_charged() == {f"{top_up_id}:1": 2}
    assert reference == SandboxProvider().charge(gateway.charges[0]).reference
    age(database_url)
    assert finish(cashier, gateway, settings) == 0
    assert cashier.balance(CUSTOMER) == 4_000
    assert len(gateway.charges) == 2


def test_a_young_pending_top_up_is_left_to_its_request(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_after_charging(cashier, gateway, 4_000, "recent")

    assert finish(cashier, gateway, settings) == 0

    assert top_ups_kept(database_url) == [("recent", 4_000, "pending", None)]
    assert cashier.balance(CUSTOMER) is None
    assert len(gateway.charges) == 1


def test_the_customers_own_retry_finishes_a_top_up_whose_request_died(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_after_charging(cashier, gateway, 4_000, "died")

    made = top_up(cashier.unit_of_work, gateway, CUSTOMER, 4_000, CURRENCY, "died")

    assert (made["kind"], made["amount"], made["balance_after"]) == ("top_up", 4_000, 4_000)
    assert top_ups_kept(database_url) == [("died", 4_000, "succeeded", None)]
    assert len(gateway.keys_charged()) == 1  # one key, so one charge at the provider
    age(database_url)
    assert finish(cashier, gateway, settings) == 0
    assert cashier.balance(CUSTOMER) == 4_000
    assert len(ledger(database_url)) == 1


def test_workers_racing_each_other_finish_every_abandoned_top_up_once(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    customers = [f"cust-{n}" for n in range(3)]
    for n, customer in enumerate(customers):
        died_after_charging(cashier, gateway, 1_000 * (n + 1), "died", customer_id=customer)
    age(database_url)
    start = threading.Barrier(FINISHERS)

    def race(_: int) -> int:
        start.wait()
        return finish(cashier, gateway, settings)

    with ThreadPoolExecutor(FINISHERS) as pool:
        finished = list(pool.map(race, range(FINISHERS)))

    assert sum(finished) == len(customers)
    assert [cashier.balance(customer) for customer in customers] == [1_000, 2_000, 3_000]
    assert len(ledger(database_url)) == len(customers)
    assert {status for _, _, status, _ in top_ups_kept(database_url)} == {"succeeded"}
    # Each top-up was asked for by its request and by one worker only.
    assert sorted(gateway.keys_charged().values()) == [2, 2, 2]


def test_a_retry_of_the_request_after_recovery_answers_with_the_finished_top_up(
    client: FlaskClient, cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    def send() -> Any:
        return client.post(
            "/v1/wallets/me/top-ups", json={"amount": inr(2_500)}, headers={**MEERA, "Idempotency-Key": "late"}
        )

    gateway.crash_after_charging = True
    assert send().status_code == 500
    gateway.crash_after_charging = False
    age(database_url)
    assert finish(cashier, gateway, settings) == 1
    [(transaction_id,)] = sql(database_url, "SELECT transaction_id FROM top_ups")

    retried = send()

    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers  # the dead request's key was not kept: answered afresh
    assert retried.json["id"] == str(transaction_id)
    assert (retried.json["amount"], retried.json["balance_after"]) == (inr(2_500), inr(2_500))
    again = send()
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (201, retried.json, "true")
    assert cashier.balance(CUSTOMER) == 2_500
    assert len(ledger(database_url)) == 1
    assert len(gateway.charges) == 2  # the dead request's and the worker's; the retries found the top-up done


def test_a_pending_top_up_the_provider_declines_is_finished_as_declined_without_money(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_before_the_provider_answered(cashier, gateway, 3_000, "unanswered")
    gateway.declining = "The card has expired."
    age(database_url)

    assert finish(cashier, gateway, settings) == 1

    assert top_ups_kept(database_url) == [("unanswered", 3_000, "declined", "The card has expired.")]
    assert sql(database_url, "SELECT transaction_id FROM top_ups") == [(None,)]
    assert ledger(database_url) == []
    assert cashier.balance(CUSTOMER) is None
    assert gateway.voids == []
    age(database_url)
    assert finish(cashier, gateway, settings) == 0  # declined is finished: the worker does not ask again
    assert len(gateway.charges) == 1


def test_a_pending_top_up_finished_into_a_wallet_filled_meanwhile_is_voided(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_after_charging(cashier, gateway, 100, "late")
    cashier.top_up(CUSTOMER, 1, key="meanwhile")
    sql(database_url, "UPDATE accounts SET balance = %s WHERE customer_id = %s", MAX_WALLET_BALANCE_MINOR, CUSTOMER)
    age(database_url)

    assert finish(cashier, gateway, settings) == 1

    assert top_ups_kept(database_url) == [("late", 100, "voided", "wallet limit"), ("meanwhile", 1, "succeeded", None)]
    assert gateway.voids == [SandboxProvider().charge(gateway.charges[0])]
    assert [key for _, _, _, _, key, _ in ledger(database_url)] == ["meanwhile"]
    assert cashier.balance(CUSTOMER) == MAX_WALLET_BALANCE_MINOR


def test_a_provider_that_does_not_answer_the_worker_leaves_the_top_up_for_a_later_run(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_before_the_provider_answered(cashier, gateway, 3_000, "unanswered")
    age(database_url)
    gateway.unreachable = True

    with pytest.raises(ConnectionError):
        finish(cashier, gateway, settings)

    assert top_ups_kept(database_url) == [("unanswered", 3_000, "pending", None)]
    assert finish(cashier, gateway, settings) == 0  # just tried: it waits for the next recovery period
    gateway.unreachable = False
    age(database_url)
    assert finish(cashier, gateway, settings) == 1
    assert top_ups_kept(database_url) == [("unanswered", 3_000, "succeeded", None)]
    assert cashier.balance(CUSTOMER) == 3_000


def test_top_ups_of_one_key_by_two_customers_are_finished_into_their_own_wallets(
    cashier: Cashier, gateway: Gateway, settings: PaymentsSettings, database_url: str
) -> None:
    died_after_charging(cashier, gateway, 1_000, "same-key", customer_id="cust-a")
    died_after_charging(cashier, gateway, 2_000, "same-key", customer_id="cust-b")
    age(database_url)

    assert finish(cashier, gateway, settings) == 2

    assert (cashier.balance("cust-a"), cashier.balance("cust-b")) == (1_000, 2_000)
    assert sorted(scope for _, _, _, scope, _, _ in ledger(database_url)) == ["top_up:cust-a", "top_up:cust-b"]
    # One client key, two charges: the provider's key is each top-up's own id.
    assert set(gateway.keys_charged()) == {
        f"{top_up_id}:1" for (top_up_id,) in sql(database_url, "SELECT id FROM top_ups")
    }
    assert len(gateway.keys_charged()) == 2
