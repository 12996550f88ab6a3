"""Payments' commands (sent by bookings) and events (read by bookings).

Every command carries an idempotency key derived from the booking: ``booking:<id>:debit`` for the first attempt
to pay (``booking:<id>:debit:<n>`` for the n-th, after a decline and a top-up), ``booking:<id>:refund:<reason>``
for each reason to give money back. Payments decides a key once, forever: a command repeated with the same key
changes nothing and is answered again with the first decision. A key names its booking and its kind, so the
schema refuses a key that belongs to another booking or command.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, StringConstraints, field_validator, model_validator

from tripline.contracts.values import Money
from tripline.messaging.contracts import Contract

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
# The same bound as a public top-up: no single booking moves more money than that.
MAX_PAYMENT_MINOR = 10_000_000_000


def _printable(text: str) -> str:
    if not text.isprintable():
        raise ValueError("must hold printable characters only")
    return text


# A token's subject: printable, as the API only ever issues and accepts.
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_printable)]
RefundReason = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


def debit_key(booking_id: uuid.UUID, attempt: int = 1) -> str:
    """The key of a booking's ``attempt``-th try to pay (a declined key stays declined, so a retry needs a new one)."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    first = f"booking:{booking_id}:debit"
    return first if attempt == 1 else f"{first}:{attempt}"


def refund_key(booking_id: uuid.UUID, reason: str) -> str:
    """The key of one reason to refund a booking (``cancelled``, ``confirm_rejected``, ``late_debit``...)."""
    return f"booking:{booking_id}:refund:{reason}"


def _positive_amount(money: Money) -> Money:
    if not 1 <= money.amount_minor <= MAX_PAYMENT_MINOR:
        raise ValueError(f"amount_minor must be between 1 and {MAX_PAYMENT_MINOR}")
    return money


def _ensure_key_names(key: str, prefix: str) -> None:
    if not key.startswith(prefix):
        raise ValueError(f"idempotency_key must start with {prefix!r}")


# Commands ------------------------------------------------------------------------------------------------------


class DebitWallet(Contract):
    """Take ``amount`` from the customer's wallet for a booking: once per booking, whatever the retries."""

    TYPE: ClassVar[str] = "payments.debit"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "payments.cmd.debit"

    booking_id: uuid.UUID
    customer_id: CustomerId
    amount: Money
    idempotency_key: IdempotencyKey

    @field_validator("amount")
    @classmethod
    def _amount_is_positive(cls, amount: Money) -> Money:
        return _positive_amount(amount)

    @model_validator(mode="after")
    def _key_is_this_bookings_debit(self) -> Self:
        first = debit_key(self.booking_id)
        if self.idempotency_key != first:
            _ensure_key_names(self.idempotency_key, f"{first}:")
        return self


class RefundPayment(Contract):
    """Give back to the paying wallet ``amount`` of a booking's debit, or all that is left of it when null.

    A refund never exceeds what is left of the debit. A refund of a booking never debited changes nothing now,
    but is remembered: should the debit still arrive, it is refunded at once instead of kept.
    """

    TYPE: ClassVar[str] = "payments.refund"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "payments.cmd.refund"

    booking_id: uuid.UUID
    amount: Money | None = None
    reason: RefundReason
    idempotency_key: IdempotencyKey

    @field_validator("amount")
    @classmethod
    def _amount_is_positive(cls, amount: Money | None) -> Money | None:
        return None if amount is None else _positive_amount(amount)

    @model_validator(mode="after")
    def _key_is_this_bookings_refund(self) -> Self:
        _ensure_key_names(self.idempotency_key, refund_key(self.booking_id, ""))
        return self


# Events --------------------------------------------------------------------------------------------------------

DeclineReason = Literal["insufficient_funds", "currency_mismatch"]


class DebitSucceeded(Contract):
    """The booking is paid: ``amount`` left the customer's wallet in ledger transaction ``transaction_id``."""

    TYPE: ClassVar[str] = "payments.debit_succeeded"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "payments.evt.debit.succeeded"

    booking_id: uuid.UUID
    customer_id: str
    amount: Money
    transaction_id: uuid.UUID
    idempotency_key: str


class DebitDeclined(Contract):
    """No money moved: the wallet holds too little, or the amount is not in the wallet's currency."""

    TYPE: ClassVar[str] = "payments.debit_declined"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "payments.evt.debit.declined"

    booking_id: uuid.UUID
    customer_id: str
    amount: Money
    reason: DeclineReason
    detail: str
    idempotency_key: str


class RefundSucceeded(Contract):
    """The refund is decided: ``amount`` went back to the wallet (zero when nothing was left to refund).

    ``transaction_id`` is null when no money moved; ``refunded_total`` and ``debited_total`` are the booking's
    totals when the answer is sent. A repeated refund is answered with what it gave back; a refund that waited for
    its debit is answered twice: with 0 when it arrives, with the money when the debit does.
    """

    TYPE: ClassVar[str] = "payments.refund_succeeded"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "payments.evt.refund.succeeded"

    booking_id: uuid.UUID
    amount: Money
    transaction_id: uuid.UUID | None
    refunded_total: Money
    debited_total: Money
    reason: str
    idempotency_key: str
