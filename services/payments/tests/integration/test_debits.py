"""Debiting a booking from the customer's wallet on a real PostgreSQL, through the inbox as the worker does."""

from __future__ import annotations

import uuid
from typing import Any

from payments.domain.ledger import AccountKind, platform, wallet
from tripline.contracts.payments import DebitWallet, debit_key
from tripline.messaging.inbox import Outcome
from tripline.testing import sql

from ..cashier import CURRENCY, Cashier, command_envelope, debit_command, inr

CUSTOMER = "cust-asha"


def debit_transactions(database_url: str, booking_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(id, scope, idempotency_key, amount) of every debit the ledger holds for the booking."""
    return sql(
        database_url,
        "SELECT id, scope, idempotency_key, amount FROM ledger_transactions WHERE kind = 'debit' AND booking_id = %s",
        booking_id,
    )


def entries(database_url: str, transaction_id: str | uuid.UUID) -> dict[uuid.UUID, tuple[int, int | None]]:
    """The transaction's entries: account id -> (amount, balance_after)."""
    rows = sql(
        database_url,
        "SELECT account_id, amount, balance_after FROM ledger_entries WHERE transaction_id = %s",
        transaction_id,
    )
    return {account_id: (amount, balance_after) for account_id, amount, balance_after in rows}


def decision(database_url: str, key: str) -> str | None:
    rows = sql(database_url, "SELECT outcome FROM payment_requests WHERE idempotency_key = %s", key)
    return rows[0][0] if rows else None


def test_a_debit_takes_the_amount_from_the_wallet_into_clearing(cashier: Cashier, database_url: str) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()

    subject, payload = cashier.debit(booking_id, CUSTOMER, 2_500)

    assert subject == "debit.succeeded"
    transaction_id = payload.pop("transaction_id")
    assert payload == {
        "booking_id": str(booking_id),
        "customer_id": CUSTOMER,
        "amount": inr(2_500),
        "idempotency_key": debit_key(booking_id),
    }
    assert cashier.balance(CUSTOMER) == 7_500
    assert cashier.booking(booking_id) == (2_500, 0)
    assert debit_transactions(database_url, booking_id) == [
        (uuid.UUID(transaction_id), "bookings", debit_key(booking_id), 2_500)
    ]
    moved = entries(database_url, transaction_id)
    assert moved == {
        wallet(CUSTOMER, CURRENCY).id: (-2_500, 7_500),
        platform(AccountKind.CLEARING, CURRENCY).id: (2_500, None),
    }
    assert sum(amount for amount, _ in moved.values()) == 0
    assert decision(database_url, debit_key(booking_id)) == "debited"


def test_a_wallet_holding_too_little_declines_the_debit_and_moves_nothing(cashier: Cashier, database_url: str) -> None:
    cashier.top_up(CUSTOMER, 1_000)
    booking_id = uuid.uuid4()

    subject, payload = cashier.debit(booking_id, CUSTOMER, 1_500)

    assert subject == "debit.declined"
    assert payload == {
        "booking_id": str(booking_id),
        "customer_id": CUSTOMER,
        "amount": inr(1_500),
        "reason": "insufficient_funds",
        "detail": "The wallet holds less than the amount.",
        "idempotency_key": debit_key(booking_id),
    }
    assert cashier.balance(CUSTOMER) == 1_000
    assert cashier.booking(booking_id) == (0, 0)
    assert debit_transactions(database_url, booking_id) == []
    assert decision(database_url, debit_key(booking_id)) == "declined_insufficient_funds"


def test_the_same_key_again_is_answered_with_the_first_debit_and_moves_no_more_money(
    cashier: Cashier, database_url: str
) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()

    first = cashier.debit(booking_id, CUSTOMER, 2_500)
    again = cashier.debit(booking_id, CUSTOMER, 2_500)

    assert first[0] == "debit.succeeded"
    assert again == first
    assert cashier.balance(CUSTOMER) == 7_500
    assert cashier.booking(booking_id) == (2_500, 0)
    assert len(debit_transactions(database_url, booking_id)) == 1


def test_a_declined_key_stays_declined_after_a_top_up_and_a_new_key_then_pays(
    cashier: Cashier, database_url: str
) -> None:
    cashier.top_up(CUSTOMER, 1_000)
    booking_id = uuid.uuid4()
    declined = cashier.debit(booking_id, CUSTOMER, 1_500)
    cashier.top_up(CUSTOMER, 5_000)

    again = cashier.debit(booking_id, CUSTOMER, 1_500)

    assert declined[0] == "debit.declined"
    assert again == declined
    assert cashier.balance(CUSTOMER) == 6_000
    assert cashier.booking(booking_id) == (0, 0)

    subject, payload = cashier.debit(booking_id, CUSTOMER, 1_500, key=debit_key(booking_id, 2))

    assert subject == "debit.succeeded"
    assert payload["idempotency_key"] == f"booking:{booking_id}:debit:2"
    assert decision(database_url, debit_key(booking_id)) == "declined_insufficient_funds"
    assert cashier.balance(CUSTOMER) == 4_500
    assert cashier.booking(booking_id) == (1_500, 0)
    assert [row[0] for row in debit_transactions(database_url, booking_id)] == [uuid.UUID(payload["transaction_id"])]


def test_the_same_envelope_delivered_twice_is_handled_once(cashier: Cashier, database_url: str) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()
    envelope = command_envelope(debit_command(booking_id, CUSTOMER, 2_500))

    assert cashier.deliver(envelope) is Outcome.APPLIED
    assert cashier.deliver(envelope) is Outcome.DUPLICATE

    assert [subject for subject, _ in cashier.replies_to(envelope)] == ["debit.succeeded"]
    assert cashier.balance(CUSTOMER) == 7_500
    assert len(debit_transactions(database_url, booking_id)) == 1


def test_a_booking_already_paid_under_another_key_is_answered_with_the_original_transaction(
    cashier: Cashier, database_url: str
) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()
    _, paid = cashier.debit(booking_id, CUSTOMER, 2_500)

    subject, payload = cashier.debit(booking_id, CUSTOMER, 3_000, key=f"booking:{booking_id}:debit:other")

    assert subject == "debit.succeeded"
    assert payload == paid | {"idempotency_key": f"booking:{booking_id}:debit:other"}
    assert payload["amount"] == inr(2_500)  # what the booking was paid, not what the second command asked
    assert cashier.balance(CUSTOMER) == 7_500
    assert cashier.booking(booking_id) == (2_500, 0)
    assert len(debit_transactions(database_url, booking_id)) == 1


def test_a_booking_already_paid_is_answered_with_its_payment_even_when_asked_again_in_another_currency(
    cashier: Cashier, database_url: str
) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()
    _, paid = cashier.debit(booking_id, CUSTOMER, 2_500)
    command = DebitWallet(
        booking_id=booking_id,
        customer_id=CUSTOMER,
        amount={"amount_minor": 30, "currency": "USD"},
        idempotency_key=debit_key(booking_id, 2),
    )

    [(subject, payload)] = cashier.send(command)

    assert subject == "debit.succeeded"
    assert payload == paid | {"idempotency_key": debit_key(booking_id, 2)}
    assert payload["amount"] == inr(2_500)  # the payment the booking has, in the currency it was paid in
    assert cashier.balance(CUSTOMER) == 7_500
    assert len(debit_transactions(database_url, booking_id)) == 1
    assert sql(database_url, "SELECT count(*) FROM accounts WHERE currency = 'USD'") == [(0,)]
    # Repeated, the command is answered the same way.
    assert cashier.send(command) == [(subject, payload)]


def test_a_debit_in_a_foreign_currency_is_declined_as_a_currency_mismatch(cashier: Cashier, database_url: str) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()
    command = DebitWallet(
        booking_id=booking_id,
        customer_id=CUSTOMER,
        amount={"amount_minor": 2_500, "currency": "USD"},
        idempotency_key=debit_key(booking_id),
    )

    [(subject, payload)] = cashier.send(command)

    assert subject == "debit.declined"
    assert payload["reason"] == "currency_mismatch"
    assert payload["amount"] == {"amount_minor": 2_500, "currency": "USD"}
    assert payload["detail"] == "The amount is not in the wallet's currency."
    assert cashier.balance(CUSTOMER) == 10_000
    assert cashier.booking(booking_id) == (0, 0)
    assert debit_transactions(database_url, booking_id) == []
    assert sql(database_url, "SELECT count(*) FROM accounts WHERE currency = 'USD'") == [(0,)]
    assert decision(database_url, debit_key(booking_id)) == "declined_currency_mismatch"


def test_a_debit_of_a_wallet_never_used_is_declined_and_opens_the_wallet_at_zero(
    cashier: Cashier, database_url: str
) -> None:
    booking_id = uuid.uuid4()
    assert cashier.balance(CUSTOMER) is None

    subject, payload = cashier.debit(booking_id, CUSTOMER, 100)

    assert (subject, payload["reason"]) == ("debit.declined", "insufficient_funds")
    assert cashier.balance(CUSTOMER) == 0
    assert debit_transactions(database_url, booking_id) == []
