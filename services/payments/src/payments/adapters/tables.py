"""Payments' tables (its database only).

The rules that keep money honest live in the schema, not only in code: a wallet never goes below zero, a ledger
transaction's entries sum to zero and are never changed, a booking is never refunded more than it paid, and a
key moves money once.
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata: MetaData = new_metadata()
plumbing = define_plumbing_tables(metadata)


def _timestamp(name: str, default: Any = None) -> Column[object]:
    return Column(
        name, DateTime(timezone=True), nullable=False, server_default=func.now() if default is None else default
    )


accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("customer_id", Text),
    Column("currency", Text, nullable=False),
    Column("balance", BigInteger),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("id", "currency", name="uq_accounts_id_currency"),
    Index("uq_accounts_wallet", "customer_id", "currency", unique=True, postgresql_where=text("kind = 'wallet'")),
    Index("uq_accounts_platform", "kind", "currency", unique=True, postgresql_where=text("kind <> 'wallet'")),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("booking_id", Uuid),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("reason", Text),
    Column("provider_reference", Text),
    _timestamp("created_at", func.clock_timestamp()),
    UniqueConstraint("scope", "idempotency_key", name="uq_ledger_transactions_key"),
    Index("ix_ledger_transactions_booking", "booking_id", postgresql_where=text("booking_id IS NOT NULL")),
    Index("uq_ledger_transactions_one_debit", "booking_id", unique=True, postgresql_where=text("kind = 'debit'")),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("transaction_id", Uuid, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger),
    _timestamp("created_at", func.clock_timestamp()),
    ForeignKeyConstraint(
        ["account_id", "currency"], ["accounts.id", "accounts.currency"], name="fk_ledger_entries_account"
    ),
    Index("ix_ledger_entries_account", "account_id", "id"),
    Index("ix_ledger_entries_transaction", "transaction_id"),
)

booking_payments = Table(
    "booking_payments",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("customer_id", Text),
    Column("currency", Text, nullable=False),
    Column("debited", BigInteger, nullable=False, server_default=text("0")),
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("debit_transaction_id", Uuid, ForeignKey("ledger_transactions.id")),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

payment_requests = Table(
    "payment_requests",
    metadata,
    Column("scope", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("customer_id", Text),
    Column("requested_amount", BigInteger),
    Column("currency", Text, nullable=False),
    Column("reason", Text),
    Column("outcome", Text, nullable=False),
    Column("transaction_id", Uuid, ForeignKey("ledger_transactions.id")),
    Column("amount", BigInteger, nullable=False, server_default=text("0")),
    _timestamp("decided_at"),
    Column("settled_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("scope", "idempotency_key", name="pk_payment_requests"),
    Index("ix_payment_requests_awaiting", "booking_id", postgresql_where=text("outcome = 'awaiting_debit'")),
)

top_ups = Table(
    "top_ups",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    Column("provider_reference", Text),
    Column("failure", Text),
    Column("transaction_id", Uuid, ForeignKey("ledger_transactions.id")),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("scope", "idempotency_key", name="uq_top_ups_key"),
    Index("ix_top_ups_pending", "updated_at", postgresql_where=text("status = 'pending'")),
)
