"""Posting transactions to the ledger and reading wallets, in the caller's database transaction.

A posting changes the wallet's balance by one guarded statement (it never goes below zero, and a top-up or
credit never lifts it past the limit), then records the transaction and its entries. The database checks at
commit that the entries sum to zero; nothing here updates or deletes a ledger row, and the schema refuses to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from payments.adapters.tables import accounts, ledger_entries, ledger_transactions
from payments.domain.ledger import MAX_WALLET_BALANCE_MINOR, Account, Leg, Posting, TransactionKind


class InsufficientFunds(Exception):
    """The wallet holds less than the posting takes out of it; no money moved (the wallet may have been created)."""


class BalanceLimitReached(Exception):
    """The posting would lift the wallet past its limit; no money moved."""


class KeyAlreadyUsed(Exception):
    """Another transaction already moved money under this key; roll back what this one changed."""


@dataclass(frozen=True)
class Reference:
    """Who asked for a transaction (the scope of its key), under which key, and why."""

    scope: str
    key: str
    booking_id: uuid.UUID | None = None
    reason: str | None = None
    provider_reference: str | None = None


def post(session: Session, posting: Posting, reference: Reference) -> uuid.UUID:
    """Move the money of ``posting`` once under ``reference``'s key; the new transaction's id.

    Raises ``InsufficientFunds`` or ``BalanceLimitReached`` before changing the wallet, and ``KeyAlreadyUsed``
    after (the caller rolls back). Callers whose key may have moved money already look it up first, so a retry
    finds its transaction instead of being judged again on the wallet's current balance: the booking commands by
    their decided request, top-ups by their record, credits by ``transaction_by_key``.
    """
    ensure_accounts(session, *(leg.account for leg in posting.legs))
    # The wallet row first: its lock orders every posting of one wallet, so entry ids follow commit order.
    balance_after = _move_wallet(session, posting.wallet_leg, limited=posting.kind is not TransactionKind.REFUND)
    transaction_id = uuid.uuid4()
    claimed = session.execute(
        upsert(ledger_transactions)
        .values(
            id=transaction_id,
            kind=posting.kind.value,
            scope=reference.scope,
            idempotency_key=reference.key,
            booking_id=reference.booking_id,
            amount=posting.amount,
            currency=posting.currency,
            reason=reference.reason,
            provider_reference=reference.provider_reference,
        )
        .on_conflict_do_nothing(index_elements=[ledger_transactions.c.scope, ledger_transactions.c.idempotency_key])
        .returning(ledger_transactions.c.id)
    ).first()
    if claimed is None:
        raise KeyAlreadyUsed(reference.key)
    session.execute(
        insert(ledger_entries),
        [
            {
                "transaction_id": transaction_id,
                "account_id": leg.account.id,
                "currency": leg.account.currency,
                "amount": leg.amount,
                "balance_after": balance_after if leg.account.is_wallet else None,
            }
            for leg in posting.legs
        ],
    )
    return transaction_id


# Every unique index arbitrates, not only the key's: two first uses of one account racing each other meet on
# (id, currency) too, and only an arbiter index turns that meeting into "already there".
_NEW_ACCOUNTS = upsert(accounts).on_conflict_do_nothing()


def ensure_accounts(session: Session, *named: Account) -> None:
    """Create the accounts that do not exist yet: a wallet starts at zero on first use."""
    session.execute(
        _NEW_ACCOUNTS,
        # A list of rows, not .values([...]), which SQLAlchemy would compile again on every call.
        [
            {
                "id": account.id,
                "kind": account.kind.value,
                "customer_id": account.customer_id,
                "currency": account.currency,
                "balance": 0 if account.is_wallet else None,
            }
            for account in named
        ],
    )


def _move_wallet(session: Session, leg: Leg, *, limited: bool) -> int:
    guard: Any
    if leg.amount < 0:
        guard = accounts.c.balance + leg.amount >= 0
    elif limited:
        guard = accounts.c.balance + leg.amount <= MAX_WALLET_BALANCE_MINOR
    else:
        guard = true()  # money coming back is never refused
    balance = session.execute(
        update(accounts)
        .where(accounts.c.id == leg.account.id, guard)
        .values(balance=accounts.c.balance + leg.amount, updated_at=func.now())
        .returning(accounts.c.balance)
    ).scalar_one_or_none()
    if balance is None:
        raise InsufficientFunds() if leg.amount < 0 else BalanceLimitReached()
    return int(balance)


def wallet(session: Session, account: Account) -> RowMapping | None:
    """The wallet's balance and when it last changed, or None if it was never used."""
    return (
        session.execute(select(accounts.c.balance, accounts.c.updated_at).where(accounts.c.id == account.id))
        .mappings()
        .first()
    )


def wallet_history(
    session: Session, account: Account, *, before_entry: int | None, limit: int, kind: TransactionKind | None
) -> list[RowMapping]:
    """The wallet's transactions, newest first, each with the balance it left and its entry id (the cursor)."""
    query = _wallet_entries(account)
    if before_entry is not None:
        query = query.where(ledger_entries.c.id < before_entry)
    if kind is not None:
        query = query.where(ledger_transactions.c.kind == kind.value)
    return list(session.execute(query.order_by(ledger_entries.c.id.desc()).limit(limit)).mappings())


def wallet_transaction(session: Session, account: Account, transaction_id: uuid.UUID) -> RowMapping | None:
    """One of the wallet's transactions, or None if it is not the wallet's."""
    return (
        session.execute(_wallet_entries(account).where(ledger_transactions.c.id == transaction_id)).mappings().first()
    )


def transaction_by_key(session: Session, account: Account, scope: str, key: str) -> RowMapping | None:
    """The wallet's transaction made under ``key``, if any."""
    return (
        session.execute(
            _wallet_entries(account).where(
                ledger_transactions.c.scope == scope, ledger_transactions.c.idempotency_key == key
            )
        )
        .mappings()
        .first()
    )


def _wallet_entries(account: Account) -> Any:
    return (
        select(
            ledger_transactions.c.id,
            ledger_transactions.c.kind,
            ledger_transactions.c.amount,
            ledger_transactions.c.currency,
            ledger_transactions.c.booking_id,
            ledger_transactions.c.reason,
            ledger_transactions.c.created_at,
            ledger_entries.c.balance_after,
            ledger_entries.c.id.label("entry_id"),
        )
        .select_from(ledger_entries.join(ledger_transactions))
        .where(ledger_entries.c.account_id == account.id)
    )
