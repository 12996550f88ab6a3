"""A customer's wallet: its balance and history, and admins' credits (top-ups are in ``top_ups``).

A credit comes in under the admin's idempotency key, which the ledger keeps forever: a credit retried after its
cached HTTP response is gone finds the transaction it already made instead of making another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from payments.adapters import ledger
from payments.domain import ledger as rules
from tripline.db import UnitOfWork

UnitOfWorkFactory = Callable[[], UnitOfWork]


class NoWallet(Exception):
    """The customer has never used a wallet."""


class WalletLimitReached(Exception):
    """The wallet would hold more than a wallet may; no money moved (a charge already made is given back)."""


class KeyReusedElsewhere(Exception):
    """The key already moved different money (after the cached HTTP response expired)."""


@dataclass(frozen=True)
class Wallet:
    """What a wallet holds, and since when."""

    customer_id: str
    balance: int
    currency: str
    updated_at: datetime


@dataclass(frozen=True)
class HistoryPage:
    """Transactions newest first; ``has_more`` when older ones follow."""

    items: list[RowMapping]
    has_more: bool


def open_wallet(unit_of_work: UnitOfWorkFactory, customer_id: str, currency: str) -> Wallet:
    """The customer's own wallet, created at zero on first use."""
    account = rules.wallet(customer_id, currency)
    with unit_of_work() as uow:
        ledger.ensure_accounts(uow.session, account)
        wallet = _wallet(uow.session, account)
        uow.commit()
    assert wallet is not None
    return wallet


def find_wallet(unit_of_work: UnitOfWorkFactory, customer_id: str, currency: str) -> Wallet:
    """A customer's wallet as an admin sees it; ``NoWallet`` if the customer never used one."""
    with unit_of_work() as uow:
        wallet = _wallet(uow.session, rules.wallet(customer_id, currency))
    if wallet is None:
        raise NoWallet()
    return wallet


def history(
    unit_of_work: UnitOfWorkFactory,
    customer_id: str,
    currency: str,
    *,
    before_entry: int | None,
    limit: int,
    kind: rules.TransactionKind | None,
) -> HistoryPage:
    """One page of the wallet's transactions, newest first."""
    account = rules.wallet(customer_id, currency)
    with unit_of_work() as uow:
        rows = ledger.wallet_history(uow.session, account, before_entry=before_entry, limit=limit + 1, kind=kind)
    return HistoryPage(items=rows[:limit], has_more=len(rows) > limit)


def transaction(
    unit_of_work: UnitOfWorkFactory, customer_id: str, currency: str, transaction_id: uuid.UUID
) -> RowMapping | None:
    """One of the wallet's transactions, or None if it is not one of them."""
    with unit_of_work() as uow:
        return ledger.wallet_transaction(uow.session, rules.wallet(customer_id, currency), transaction_id)


def credit(
    unit_of_work: UnitOfWorkFactory, admin_id: str, customer_id: str, amount: int, currency: str, reason: str, key: str
) -> RowMapping:
    """An admin's goodwill credit from the platform's revenue into the customer's wallet, once per key."""
    # Keys are per account, as the contract scopes them (and apart from the account's own top-ups).
    reference = ledger.Reference(f"credit:{admin_id}", key, reason=reason)
    return _post_once(unit_of_work, rules.credit(customer_id, amount, currency), reference)


def _post_once(unit_of_work: UnitOfWorkFactory, posting: rules.Posting, reference: ledger.Reference) -> RowMapping:
    wallet = posting.wallet_leg.account
    with unit_of_work() as uow:
        # The key first: a retry must find its transaction, not be judged again on the wallet's current balance.
        earlier = ledger.transaction_by_key(uow.session, wallet, reference.scope, reference.key)
        if earlier is not None:
            return _same_as_asked(earlier, posting, reference)
        try:
            transaction_id = ledger.post(uow.session, posting, reference)
        except ledger.BalanceLimitReached:
            raise WalletLimitReached() from None
        except ledger.KeyAlreadyUsed:  # a twin committed first, or the key moved another wallet's money
            uow.rollback()
            earlier = ledger.transaction_by_key(uow.session, wallet, reference.scope, reference.key)
            return _same_as_asked(earlier, posting, reference)
        row = ledger.wallet_transaction(uow.session, wallet, transaction_id)
        uow.commit()
    assert row is not None
    return row


def _same_as_asked(earlier: RowMapping | None, posting: rules.Posting, reference: ledger.Reference) -> RowMapping:
    """The transaction the key already made, if it is the one asked for now; else the key was reused."""
    same = (earlier["kind"], earlier["amount"], earlier["reason"]) if earlier is not None else None
    if same != (posting.kind.value, posting.amount, reference.reason):
        raise KeyReusedElsewhere()
    assert earlier is not None
    return earlier


def _wallet(session: Session, account: rules.Account) -> Wallet | None:
    row = ledger.wallet(session, account)
    if row is None:
        return None
    assert account.customer_id is not None
    return Wallet(account.customer_id, row["balance"], account.currency, row["updated_at"])
