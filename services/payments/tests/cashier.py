"""Sending debit and refund commands to payments' handlers the way its consumer does: through the inbox."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlalchemy import Engine

from payments.adapters.providers import SandboxProvider
from payments.adapters.tables import plumbing
from payments.service_layer.booking_charges import debit_wallet, refund_payment
from payments.service_layer.top_ups import top_up
from tripline.contracts.payments import DebitWallet, RefundPayment, debit_key, refund_key
from tripline.db import make_engine, make_session_factory
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.testing import sql

CURRENCY = "INR"
Reply = tuple[str, dict[str, Any]]  # (event subject without "payments.evt.", payload)


def inr(amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": CURRENCY}


class Cashier:
    """Payments' command handlers on a real database, as the worker runs them."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url, application_name="payments-tests", pool_size=20)
        self.unit_of_work = partial(OutboxUnitOfWork, make_session_factory(self.engine), plumbing.outbox, "payments")
        self.runner = InboxRunner("payments-commands", plumbing.inbox, self.unit_of_work)

    def deliver(self, envelope: Envelope) -> Outcome:
        """Handle one delivery of ``envelope``, duplicate or not."""
        payload = Contract.lookup(envelope.type, envelope.version).model_validate(envelope.payload)
        handler = debit_wallet if isinstance(payload, DebitWallet) else refund_payment
        return self.runner.handle(envelope, payload, partial(handler, currency=CURRENCY))

    def send(self, payload: Contract) -> list[Reply]:
        """Deliver a new command; payments' replies to it."""
        envelope = command_envelope(payload)
        self.deliver(envelope)
        return self.replies_to(envelope)

    def debit(self, booking_id: uuid.UUID, customer_id: str, amount_minor: int, key: str | None = None) -> Reply:
        """Debit a booking and return the one reply."""
        replies = self.send(debit_command(booking_id, customer_id, amount_minor, key))
        return replies[0]

    def refund(self, booking_id: uuid.UUID, amount_minor: int | None = None, reason: str = "cancelled") -> list[Reply]:
        """Refund a booking (everything left when no amount is given)."""
        return self.send(refund_command(booking_id, amount_minor, reason))

    def top_up(self, customer_id: str, amount_minor: int, key: str | None = None) -> None:
        """Put money in a wallet as the top-up endpoint does."""
        top_up(self.unit_of_work, SandboxProvider(), customer_id, amount_minor, CURRENCY, key or uuid.uuid4().hex)

    def balance(self, customer_id: str) -> int | None:
        rows = sql(self.database_url, "SELECT balance FROM accounts WHERE customer_id = %s", customer_id)
        return rows[0][0] if rows else None

    def booking(self, booking_id: uuid.UUID) -> tuple[int, int] | None:
        """(debited, refunded) of a booking."""
        rows = sql(
            self.database_url, "SELECT debited, refunded FROM booking_payments WHERE booking_id = %s", booking_id
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def replies_to(self, envelope: Envelope) -> list[Reply]:
        """The events caused by ``envelope``, in the order they were queued."""
        rows = sql(
            self.database_url,
            "SELECT subject, envelope FROM outbox WHERE envelope->>'causation_id' = %s ORDER BY created_at, id",
            str(envelope.id),
        )
        return [(subject.removeprefix("payments.evt."), env["payload"]) for subject, env in rows]

    def close(self) -> None:
        self.engine.dispose()


def command_envelope(payload: Contract) -> Envelope:
    """A command as bookings sends it."""
    return Envelope.wrap(payload, source="bookings", correlation_id=str(payload.booking_id))  # type: ignore[attr-defined]


def debit_command(booking_id: uuid.UUID, customer_id: str, amount_minor: int, key: str | None = None) -> DebitWallet:
    return DebitWallet(
        booking_id=booking_id,
        customer_id=customer_id,
        amount=inr(amount_minor),
        idempotency_key=key or debit_key(booking_id),
    )


def refund_command(booking_id: uuid.UUID, amount_minor: int | None = None, reason: str = "cancelled") -> RefundPayment:
    return RefundPayment(
        booking_id=booking_id,
        amount=None if amount_minor is None else inr(amount_minor),
        reason=reason,
        idempotency_key=refund_key(booking_id, reason),
    )


def footprint(database_url: str) -> tuple[Any, ...]:
    """Everything money coming in could write: ledger rows, top-ups, stored keys, and every account's balance."""
    return sql(
        database_url,
        "SELECT (SELECT count(*) FROM ledger_transactions), (SELECT count(*) FROM ledger_entries),"
        " (SELECT count(*) FROM top_ups), (SELECT count(*) FROM idempotency_requests),"
        " (SELECT coalesce(json_agg(json_build_array(id, balance) ORDER BY id), '[]') FROM accounts)",
    )[0]
