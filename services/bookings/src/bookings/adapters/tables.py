"""Bookings' tables (its database only); ``migrations/`` builds the same schema, with its constraints."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)

messaging_probes = Table(
    "messaging_probes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("target", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True)),
    # Distinct answers received: more than one would mean the target handled the probe twice.
    Column("answers", Integer, nullable=False, server_default=text("0")),
)


def _at(name: str) -> Column[object]:
    return Column(name, DateTime(timezone=True))


bookings = Table(
    "bookings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("items", JSONB, nullable=False),
    Column("total_minor", BigInteger),
    Column("currency", Text),
    Column("payment_method", Text),
    Column("payment_attempts", Integer, nullable=False, server_default=text("0")),
    Column("debit_transaction_id", Uuid),
    Column("refund_minor", BigInteger),
    Column("awaiting_release", Boolean, nullable=False, server_default=text("false")),
    Column("awaiting_refund", Boolean, nullable=False, server_default=text("false")),
    Column("failure_code", Text),
    Column("failure_message", Text),
    Column("cancel_reason", Text),
    _at("starts_at"),
    _at("ends_at"),
    _at("deadline_at"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _at("reserved_at"),
    _at("expires_at"),
    _at("payment_requested_at"),
    _at("confirmed_at"),
    _at("completed_at"),
    _at("cancelled_at"),
    _at("expired_at"),
    _at("failed_at"),
    _at("deleted_at"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_bookings_customer", "customer_id", text("created_at DESC"), text("id DESC")),
    Index("ix_bookings_created", text("created_at DESC"), text("id DESC")),
    Index("ix_bookings_status", "status", text("created_at DESC"), text("id DESC")),
    Index("ix_bookings_reserved_expiry", "expires_at", postgresql_where=text("status = 'reserved'")),
    Index("ix_bookings_confirmed_end", "ends_at", postgresql_where=text("status = 'confirmed'")),
    Index("ix_bookings_deadline", "deadline_at", postgresql_where=text("deadline_at IS NOT NULL")),
)

booking_transitions = Table(
    "booking_transitions",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("booking_id", Uuid, ForeignKey("bookings.id"), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reason", Text, nullable=False),
    Column("message_id", Uuid),
    Column("request_key", Text),
    Index("ix_booking_transitions_booking", "booking_id", "id"),
    Index("uq_booking_transitions_request", "booking_id", "request_key", unique=True),
)
