"""The tables every service carries for reliable messaging and HTTP idempotency.

Each service owns its own copy in its own database; ``define_plumbing_tables`` adds them to the service's
MetaData, and ``tripline.plumbing_migrations`` creates them from the service's first Alembic revision.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

OUTBOX_CHANNEL = "outbox"


@dataclass(frozen=True)
class PlumbingTables:
    """The outbox, inbox and idempotency tables of one service's MetaData."""

    outbox: Table
    inbox: Table
    idempotency_requests: Table


def define_plumbing_tables(metadata: MetaData) -> PlumbingTables:
    """Add the plumbing tables to a service's MetaData."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("subject", Text, nullable=False),
        Column("message_type", Text, nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False),
        # clock_timestamp, not now(): rows of one long transaction keep their insertion order.
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
        Column("published_at", DateTime(timezone=True)),
        Column("publish_attempts", Integer, nullable=False, server_default=text("0")),
        # A row that failed to publish waits until then, so it never blocks the rows behind it.
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Index(
            "ix_outbox_unpublished",
            "created_at",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", Text, nullable=False),
        Column("message_id", Uuid, nullable=False),
        Column("message_type", Text, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "message_id"),
    )
    idempotency_requests = Table(
        "idempotency_requests",
        metadata,
        Column("account_id", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("method", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),
        Column("state", Text, nullable=False),
        Column("claim_token", Uuid),
        Column("locked_until", DateTime(timezone=True)),
        Column("response_status", Integer),
        Column("response_headers", JSONB),
        Column("response_body", LargeBinary),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("completed_at", DateTime(timezone=True)),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("account_id", "key"),
        CheckConstraint("state IN ('in_progress', 'completed')", name="state"),
        Index("ix_idempotency_requests_expires_at", "expires_at"),
    )
    return PlumbingTables(outbox=outbox, inbox=inbox, idempotency_requests=idempotency_requests)
