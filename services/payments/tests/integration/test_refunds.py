"""Refunding a booking's debit on a real PostgreSQL: never more than is left, once per key, even before the debit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from payments.domain.ledger import AccountKind, platform, wallet
from tripline.contracts.payments import RefundPayment, refund_key
from tripline.messaging.consumer import InvalidMessage
from tripline.testing import sql

from ..cashier import CURRENCY, Cashier, command_envelope, debit_command, inr

CUSTOMER = "cust-ravi"
START = 10_000
PRICE = 4_000


@pytest.fixture
def booking_id(cashier: Cashier) -> uuid.UUID:
    """A booking paid PRICE from a wallet that held START."""
    cashier.top_up(CUSTOMER, START)
    booking_id = uuid.uuid4()
    assert cashier.debit(booking_id, CUSTOMER, PRICE)[0] == "debit.succeeded"
    return booking_id


def refunded(cashier: Cashier, booking_id: uuid.UUID, amount_minor: int | None, reason: str) -> dict[str, Any]:
    """The one answer to a refund, which must be ``refund.succeeded``."""
    [(subject, payload)] = cashier.refund(booking_id, amount_minor, reason)
    assert subject == "refund.succeeded"
    return payload


def refund_transactions(database_url: str, booking_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(id, idempotency_key, amount, reason) of the booking's refunds in the ledger."""
    return sql(
        database_url,
        "SELECT id, idempotency_key, amount, reason FROM ledger_transactions"
        " WHERE kind = 'refund' AND booking_id = %s ORDER BY created_at, id",
        booking_id,
    )


def table_counts(database_url: str) -> dict[str, int]:
    """Rows in every table a refund could write to."""
    tables = [
        "inbox",
        "outbox",
        "accounts",
        "ledger_transactions",
        "ledger_entries",
        "booking_payments",
        "payment_requests",
    ]
    return {table: sql(database_url, f"SELECT count(*) FROM {table}")[0][0] for table in tables}


def test_a_partial_refund_gives_back_what_it_asks(cashier: Cashier, database_url: str, booking_id: uuid.UUID) -> None:
    payload = refunded(cashier, booking_id, 1_500, "cancelled")

    transaction_id = payload.pop("transaction_id")
    assert payload == {
        "booking_id": str(booking_id),
        "amount": inr(1_500),
        "refunded_total": inr(1_500),
        "debited_total": inr(PRICE),
        "reason": "cancelled",
        "idempotency_key": refund_key(booking_id, "cancelled"),
    }
    assert cashier.balance(CUSTOMER) == START - PRICE + 1_500
    assert cashier.booking(booking_id) == (PRICE, 1_500)
    assert refund_transactions(database_url, booking_id) == [
        (uuid.UUID(transaction_id), refund_key(booking_id, "cancelled"), 1_500, "cancelled")
    ]
    rows = sql(
        database_url,
        "SELECT account_id, amount, balance_after FROM ledger_entries WHERE transaction_id = %s",
        transaction_id,
    )
    assert {account: (amount, after) for account, amount, after in rows} == {
        platform(AccountKind.CLEARING, CURRENCY).id: (-1_500, None),
        wallet(CUSTOMER, CURRENCY).id: (1_500, START - PRICE + 1_500),
    }


def test_a_refund_without_an_amount_gives_back_everything_left(cashier: Cashier, booking_id: uuid.UUID) -> None:
    refunded(cashier, booking_id, 1_500, "partly_cancelled")

    payload = refunded(cashier, booking_id, None, "cancelled")

    assert payload["amount"] == inr(PRICE - 1_500)
    assert payload["refunded_total"] == inr(PRICE)
    assert cashier.balance(CUSTOMER) == START
    assert cashier.booking(booking_id) == (PRICE, PRICE)


def test_refunds_asking_more_than_the_debit_get_only_what_is_left_then_nothing(
    cashier: Cashier, database_url: str, booking_id: uuid.UUID
) -> None:
    first = refunded(cashier, booking_id, 3_000, "seat_changed")
    second = refunded(cashier, booking_id, 3_000, "cancelled")
    third = refunded(cashier, booking_id, 500, "goodwill")

    assert [p["amount"]["amount_minor"] for p in (first, second, third)] == [3_000, PRICE - 3_000, 0]
    assert third["transaction_id"] is None
    assert third["refunded_total"] == third["debited_total"] == inr(PRICE)
    assert cashier.balance(CUSTOMER) == START
    assert cashier.booking(booking_id) == (PRICE, PRICE)
    assert [row[2] for row in refund_transactions(database_url, booking_id)] == [3_000, PRICE - 3_000]


def test_the_same_refund_key_again_re_emits_the_first_refund_and_another_reason_refunds_what_is_left(
    cashier: Cashier, database_url: str, booking_id: uuid.UUID
) -> None:
    first = refunded(cashier, booking_id, 1_500, "cancelled")

    again = refunded(cashier, booking_id, 1_500, "cancelled")

    assert (again["amount"], again["transaction_id"]) == (first["amount"], first["transaction_id"])
    assert cashier.balance(CUSTOMER) == START - PRICE + 1_500
    assert cashier.booking(booking_id) == (PRICE, 1_500)
    assert len(refund_transactions(database_url, booking_id)) == 1

    rest = refunded(cashier, booking_id, None, "confirm_rejected")

    assert rest["amount"] == inr(PRICE - 1_500)
    assert rest["transaction_id"] not in (None, first["transaction_id"])
    assert cashier.balance(CUSTOMER) == START
    assert cashier.booking(booking_id) == (PRICE, PRICE)


@pytest.mark.parametrize(("asked", "given_back"), [(None, PRICE), (1_000, 1_000)])
def test_a_refund_before_the_debit_waits_and_the_late_debit_is_refunded_at_once(
    cashier: Cashier, database_url: str, asked: int | None, given_back: int
) -> None:
    cashier.top_up(CUSTOMER, START)
    booking_id = uuid.uuid4()

    early = refunded(cashier, booking_id, asked, "cancelled")

    assert early["amount"] == inr(0)
    assert early["transaction_id"] is None
    assert early["debited_total"] == early["refunded_total"] == inr(0)
    assert sql(database_url, "SELECT outcome, settled_at FROM payment_requests WHERE kind = 'refund'") == [
        ("awaiting_debit", None)
    ]
    [(decided_at,)] = sql(database_url, "SELECT decided_at FROM payment_requests WHERE kind = 'refund'")
    assert cashier.balance(CUSTOMER) == START

    replies = cashier.send(debit_command(booking_id, CUSTOMER, PRICE))

    assert sorted(subject for subject, _ in replies) == ["debit.succeeded", "refund.succeeded"]
    refund = dict(replies)["refund.succeeded"]
    assert dict(replies)["debit.succeeded"]["amount"] == inr(PRICE)
    assert refund["amount"] == inr(given_back)
    assert refund["transaction_id"] is not None
    assert refund["idempotency_key"] == refund_key(booking_id, "cancelled")
    assert refund["refunded_total"] == inr(given_back)
    assert refund["debited_total"] == inr(PRICE)
    assert cashier.balance(CUSTOMER) == START - PRICE + given_back
    assert cashier.booking(booking_id) == (PRICE, given_back)
    assert sql(database_url, "SELECT outcome, amount FROM payment_requests WHERE kind = 'refund'") == [
        ("refunded", given_back)
    ]
    # Decided when it arrived, settled when the money went back.
    [(still_decided_at, settled_at)] = sql(
        database_url, "SELECT decided_at, settled_at FROM payment_requests WHERE kind = 'refund'"
    )
    assert still_decided_at == decided_at
    assert settled_at is not None
    assert settled_at >= decided_at
    # Asked again, the refund now answers with the money it gave back.
    again = refunded(cashier, booking_id, asked, "cancelled")
    assert (again["amount"], again["transaction_id"]) == (refund["amount"], refund["transaction_id"])


@pytest.mark.parametrize("debited_first", [True, False], ids=["debited", "never_debited"])
def test_a_refund_in_a_foreign_currency_is_an_invalid_message_and_writes_nothing(
    cashier: Cashier, database_url: str, debited_first: bool
) -> None:
    cashier.top_up(CUSTOMER, START)
    booking_id = uuid.uuid4()
    if debited_first:
        cashier.debit(booking_id, CUSTOMER, PRICE)
    before = table_counts(database_url)
    envelope = command_envelope(
        RefundPayment(
            booking_id=booking_id,
            amount={"amount_minor": 1_000, "currency": "USD"},
            reason="cancelled",
            idempotency_key=refund_key(booking_id, "cancelled"),
        )
    )

    with pytest.raises(InvalidMessage):
        cashier.deliver(envelope)

    assert table_counts(database_url) == before
    assert cashier.replies_to(envelope) == []
    assert cashier.balance(CUSTOMER) == START - (PRICE if debited_first else 0)
