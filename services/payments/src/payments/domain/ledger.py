"""The double-entry rules: which accounts each kind of transaction moves money between.

Every transaction is a set of legs that sum to zero: money leaves one account and arrives in another, it is
never created or lost. Amounts are integers in the currency's minor unit. A leg's amount is signed from the
account's point of view: a wallet's balance is the sum of its legs.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

# Ids are derived from what an account is, so finding or creating one never needs a lookup first.
_ACCOUNT_NAMESPACE = uuid.UUID("2f8e4a61-96b3-4c0e-8d7a-51f0c3b9e4a2")

# Bounds of what one top-up or credit may move, and of what a wallet may hold after one (far below BIGINT).
MAX_TOP_UP_MINOR = 10_000_000_000
MAX_WALLET_BALANCE_MINOR = 10**15


class AccountKind(enum.StrEnum):
    """A customer's wallet, or one of the platform's accounts."""

    WALLET = "wallet"
    # Money paid for bookings, held until it is refunded or earned.
    CLEARING = "clearing"
    # The platform's own money; goodwill credits are paid from it.
    REVENUE = "revenue"
    # The outside world's side of a top-up through the payment provider: its balance is minus all top-ups.
    TOP_UP_SOURCE = "top_up_source"


class TransactionKind(enum.StrEnum):
    """What a ledger transaction did, as a customer reads it."""

    TOP_UP = "top_up"
    DEBIT = "debit"
    REFUND = "refund"
    CREDIT = "credit"


@dataclass(frozen=True)
class Account:
    """One account in one currency."""

    kind: AccountKind
    currency: str
    customer_id: str | None = None

    @property
    def id(self) -> uuid.UUID:
        """The account's id, the same every time it is named."""
        owner = self.customer_id if self.kind is AccountKind.WALLET else ""
        return uuid.uuid5(_ACCOUNT_NAMESPACE, f"{self.kind.value}:{self.currency}:{owner}")

    @property
    def is_wallet(self) -> bool:
        return self.kind is AccountKind.WALLET


def wallet(customer_id: str, currency: str) -> Account:
    """A customer's wallet."""
    return Account(AccountKind.WALLET, currency, customer_id)


def platform(kind: AccountKind, currency: str) -> Account:
    """One of the platform's accounts."""
    if kind is AccountKind.WALLET:
        raise ValueError("a wallet belongs to a customer")
    return Account(kind, currency)


@dataclass(frozen=True)
class Leg:
    """Money into (positive) or out of (negative) one account."""

    account: Account
    amount: int


@dataclass(frozen=True)
class Posting:
    """The legs of one transaction: from one account to another."""

    kind: TransactionKind
    amount: int
    legs: tuple[Leg, Leg]

    @property
    def currency(self) -> str:
        return self.legs[0].account.currency

    @property
    def wallet_leg(self) -> Leg:
        """The customer's side of the transaction (every kind has exactly one)."""
        return next(leg for leg in self.legs if leg.account.is_wallet)


def _move(kind: TransactionKind, amount: int, source: Account, destination: Account) -> Posting:
    if amount <= 0:
        raise ValueError("a transaction moves a positive amount")
    if source.currency != destination.currency:
        raise ValueError("a transaction moves money within one currency")
    return Posting(kind, amount, (Leg(source, -amount), Leg(destination, amount)))


def top_up(customer_id: str, amount: int, currency: str) -> Posting:
    """Money from the payment provider into the customer's wallet."""
    return _move(
        TransactionKind.TOP_UP, amount, platform(AccountKind.TOP_UP_SOURCE, currency), wallet(customer_id, currency)
    )


def credit(customer_id: str, amount: int, currency: str) -> Posting:
    """A goodwill credit: the platform's money into the customer's wallet."""
    return _move(TransactionKind.CREDIT, amount, platform(AccountKind.REVENUE, currency), wallet(customer_id, currency))


def debit(customer_id: str, amount: int, currency: str) -> Posting:
    """A booking's payment: from the wallet into clearing."""
    return _move(TransactionKind.DEBIT, amount, wallet(customer_id, currency), platform(AccountKind.CLEARING, currency))


def refund(customer_id: str, amount: int, currency: str) -> Posting:
    """A booking's money back: from clearing into the wallet that paid."""
    return _move(
        TransactionKind.REFUND, amount, platform(AccountKind.CLEARING, currency), wallet(customer_id, currency)
    )


def refundable(*, debited: int, refunded: int, requested: int | None) -> int:
    """What a refund may give back: what it asks (everything when it does not say), never more than is left."""
    left = debited - refunded
    return left if requested is None else min(requested, left)
