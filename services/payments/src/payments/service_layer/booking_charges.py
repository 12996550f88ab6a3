"""Handlers of ``payments.cmd.debit`` and ``payments.cmd.refund``, the money side of the booking saga.

Each runs in one transaction opened by the inbox runner: the booking's payment row is locked first, so the
commands of one booking are decided one at a time; the ledger postings, the decision and the reply commit
together or not at all. A key is decided once: asked again, payments answers with the first decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from payments.adapters import ledger, payment_records
from payments.domain import ledger as rules
from tripline.contracts.payments import DebitDeclined, DebitSucceeded, DebitWallet, RefundPayment, RefundSucceeded
from tripline.contracts.values import Money
from tripline.messaging.consumer import InvalidMessage
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

# A decided request: a row of ``payment_requests``, or the values about to become one.
Decision = Mapping[Any, Any]

DECLINE_DETAILS = {
    "insufficient_funds": "The wallet holds less than the amount.",
    "currency_mismatch": "The amount is not in the wallet's currency.",
}


def debit_wallet(command: DebitWallet, envelope: Envelope, uow: OutboxUnitOfWork, *, currency: str) -> None:
    """Take the booking's amount from the customer's wallet once; answer ``debit.succeeded`` or ``debit.declined``."""
    session = uow.session
    booking = payment_records.lock_booking(session, command.booking_id, currency)
    decision: Decision | None = payment_records.find_decision(session, envelope.source, command.idempotency_key)
    if decision is None:
        decision, paid = _decide_debit(session, command, booking, envelope.source)
        payment_records.record_decision(session, **decision)
        if paid is not None:
            # Queued before the refunds it triggers; delivery may still reorder them, so bookings must not rely on it.
            _reply(uow, envelope, _debit_answer(decision))
            _pay_out_refunds_that_waited(uow, envelope, paid)
            return
    _reply(uow, envelope, _debit_answer(decision))


def refund_payment(command: RefundPayment, envelope: Envelope, uow: OutboxUnitOfWork, *, currency: str) -> None:
    """Give back what the command asks, capped at what is left of the debit; answer ``refund.succeeded``."""
    session = uow.session
    booking = payment_records.lock_booking(session, command.booking_id, currency)
    decision: Decision | None = payment_records.find_decision(session, envelope.source, command.idempotency_key)
    if decision is None:
        if command.amount is not None and command.amount.currency != booking["currency"]:
            raise InvalidMessage(f"refund in {command.amount.currency} of a booking paid in {booking['currency']}")
        decision, booking = _decide_refund(session, command, booking, envelope.source)
        payment_records.record_decision(session, **decision)
    _reply(uow, envelope, _refund_answer(decision, booking))


# Deciding ------------------------------------------------------------------------------------------------------


def _decide_debit(
    session: Session, command: DebitWallet, booking: RowMapping, scope: str
) -> tuple[dict[str, Any], RowMapping | None]:
    """The decision, and the booking's payment row when this debit took the money."""
    decision: dict[str, Any] = {
        "scope": scope,
        "idempotency_key": command.idempotency_key,
        "kind": "debit",
        "booking_id": command.booking_id,
        "customer_id": command.customer_id,
        "requested_amount": command.amount.amount_minor,
        "currency": command.amount.currency,
    }
    if booking["debited"]:
        # Paid already, under another key: the booking is paid once, and this answer says by whom and how much.
        return decision | {
            "outcome": "debited",
            "customer_id": booking["customer_id"],
            "transaction_id": booking["debit_transaction_id"],
            "amount": booking["debited"],
            "currency": booking["currency"],
        }, None
    if command.amount.currency != booking["currency"]:
        return decision | {"outcome": "declined_currency_mismatch"}, None
    posting = rules.debit(command.customer_id, command.amount.amount_minor, command.amount.currency)
    reference = ledger.Reference(scope, command.idempotency_key, booking_id=command.booking_id)
    try:
        transaction_id = ledger.post(session, posting, reference)
    except ledger.InsufficientFunds:
        return decision | {"outcome": "declined_insufficient_funds"}, None
    paid = payment_records.record_debit(
        session, command.booking_id, command.customer_id, posting.amount, transaction_id
    )
    return decision | {"outcome": "debited", "transaction_id": transaction_id, "amount": posting.amount}, paid


def _decide_refund(
    session: Session, command: RefundPayment, booking: RowMapping, scope: str
) -> tuple[dict[str, Any], RowMapping]:
    requested = None if command.amount is None else command.amount.amount_minor
    decision: dict[str, Any] = {
        "scope": scope,
        "idempotency_key": command.idempotency_key,
        "kind": "refund",
        "booking_id": command.booking_id,
        "customer_id": booking["customer_id"],
        "requested_amount": requested,
        "currency": booking["currency"],
        "reason": command.reason,
    }
    if not booking["debited"]:
        # Nothing to give back yet; remembered, so a debit that still arrives is refunded instead of kept.
        return decision | {"outcome": "awaiting_debit", "amount": 0, "transaction_id": None}, booking
    transaction_id, amount, booking = _refund(
        session, booking, requested, scope, command.idempotency_key, command.reason
    )
    return decision | {"outcome": "refunded", "transaction_id": transaction_id, "amount": amount}, booking


def _refund(
    session: Session, booking: RowMapping, requested: int | None, scope: str, key: str, reason: str | None
) -> tuple[uuid.UUID | None, int, RowMapping]:
    """Post the refund (nothing when nothing is left); the transaction, its amount and the booking after it."""
    amount = rules.refundable(debited=booking["debited"], refunded=booking["refunded"], requested=requested)
    if amount == 0:
        return None, 0, booking
    posting = rules.refund(booking["customer_id"], amount, booking["currency"])
    reference = ledger.Reference(scope, key, booking_id=booking["booking_id"], reason=reason)
    transaction_id = ledger.post(session, posting, reference)
    return transaction_id, amount, payment_records.record_refund(session, booking["booking_id"], amount)


def _pay_out_refunds_that_waited(uow: OutboxUnitOfWork, envelope: Envelope, booking: RowMapping) -> None:
    session = uow.session
    for waiting in payment_records.awaiting_debit(session, booking["booking_id"]):
        transaction_id, amount, booking = _refund(
            session,
            booking,
            waiting["requested_amount"],
            waiting["scope"],
            waiting["idempotency_key"],
            waiting["reason"],
        )
        payment_records.settle_awaiting(session, waiting["scope"], waiting["idempotency_key"], transaction_id, amount)
        if amount:
            settled = dict(waiting) | {"transaction_id": transaction_id, "amount": amount}
            _reply(uow, envelope, _refund_answer(settled, booking))


# Answering -----------------------------------------------------------------------------------------------------


def _debit_answer(decision: Decision) -> Contract:
    common = {
        "booking_id": decision["booking_id"],
        "customer_id": decision["customer_id"],
        "idempotency_key": decision["idempotency_key"],
    }
    if decision["outcome"] == "debited":
        return DebitSucceeded(
            **common,
            amount=Money(amount_minor=decision["amount"], currency=decision["currency"]),
            transaction_id=decision["transaction_id"],
        )
    reason = decision["outcome"].removeprefix("declined_")
    return DebitDeclined(
        **common,
        amount=Money(amount_minor=decision["requested_amount"], currency=decision["currency"]),
        reason=reason,
        detail=DECLINE_DETAILS[reason],
    )


def _refund_answer(decision: Decision, booking: RowMapping) -> RefundSucceeded:
    currency = booking["currency"]
    return RefundSucceeded(
        booking_id=decision["booking_id"],
        amount=Money(amount_minor=decision["amount"], currency=currency),
        transaction_id=decision["transaction_id"],
        refunded_total=Money(amount_minor=booking["refunded"], currency=currency),
        debited_total=Money(amount_minor=booking["debited"], currency=currency),
        reason=decision["reason"],
        idempotency_key=decision["idempotency_key"],
    )


def _reply(uow: OutboxUnitOfWork, envelope: Envelope, answer: Contract) -> None:
    uow.outbox.add(answer, correlation_id=str(answer.booking_id), causation=envelope)  # type: ignore[attr-defined]
