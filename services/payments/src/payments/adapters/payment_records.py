"""What each booking paid and got back, and every debit or refund request decided: payments' saga memory.

Every command about a booking first locks the booking's row, so the commands of one booking are decided one at
a time, in the order they are handled, whatever the number of consumers.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from payments.adapters.tables import booking_payments, payment_requests


def lock_booking(session: Session, booking_id: uuid.UUID, currency: str) -> RowMapping:
    """The booking's payment row, created empty if it has none, locked until the transaction ends."""
    session.execute(upsert(booking_payments).values(booking_id=booking_id, currency=currency).on_conflict_do_nothing())
    return (
        session.execute(select(booking_payments).where(booking_payments.c.booking_id == booking_id).with_for_update())
        .mappings()
        .one()
    )


def record_debit(
    session: Session, booking_id: uuid.UUID, customer_id: str, amount: int, transaction_id: uuid.UUID
) -> RowMapping:
    """The booking is paid by ``customer_id``; its payment row after that."""
    return (
        session.execute(
            update(booking_payments)
            # Only a booking not paid yet: a second debit would find no row, and .one() would refuse it.
            .where(booking_payments.c.booking_id == booking_id, booking_payments.c.debited == 0)
            .values(customer_id=customer_id, debited=amount, debit_transaction_id=transaction_id, updated_at=func.now())
            .returning(booking_payments)
        )
        .mappings()
        .one()
    )


def record_refund(session: Session, booking_id: uuid.UUID, amount: int) -> RowMapping:
    """Add ``amount`` to what the booking got back (the schema refuses more than was debited)."""
    return (
        session.execute(
            update(booking_payments)
            .where(booking_payments.c.booking_id == booking_id)
            .values(refunded=booking_payments.c.refunded + amount, updated_at=func.now())
            .returning(booking_payments)
        )
        .mappings()
        .one()
    )


def find_decision(session: Session, scope: str, key: str) -> RowMapping | None:
    """The request already decided under ``key``, if any."""
    return (
        session.execute(
            select(payment_requests).where(payment_requests.c.scope == scope, payment_requests.c.idempotency_key == key)
        )
        .mappings()
        .first()
    )


def record_decision(session: Session, **request: Any) -> None:
    """Remember a decided request, so the same key is answered the same way forever."""
    session.execute(insert(payment_requests).values(**request))


def awaiting_debit(session: Session, booking_id: uuid.UUID) -> list[RowMapping]:
    """Refunds that came before the booking's debit, oldest first."""
    return list(
        session.execute(
            select(payment_requests)
            .where(payment_requests.c.booking_id == booking_id, payment_requests.c.outcome == "awaiting_debit")
            .order_by(payment_requests.c.decided_at, payment_requests.c.idempotency_key)
        ).mappings()
    )


def settle_awaiting(session: Session, scope: str, key: str, transaction_id: uuid.UUID | None, amount: int) -> None:
    """A refund that waited for the debit is now paid out."""
    session.execute(
        update(payment_requests)
        .where(payment_requests.c.scope == scope, payment_requests.c.idempotency_key == key)
        .values(outcome="refunded", transaction_id=transaction_id, amount=amount, settled_at=func.now())
    )
