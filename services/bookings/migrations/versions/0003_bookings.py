"""Bookings (each one a saga instance) and the history of every status change.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATUSES = (
    "'pending', 'reserved', 'payment_pending', 'confirming', 'confirmed', 'completed',"
    " 'cancelling', 'cancelled', 'expired', 'failed'"
)

UPGRADE = [
    f"""
    CREATE TABLE bookings (
        id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        status text NOT NULL,
        -- Counts the booking's changes; its events carry it, so subscribers can order them.
        version integer NOT NULL DEFAULT 1,
        -- What the customer asked for (with passengers and guests); priced from inventory's hold once reserved.
        items jsonb NOT NULL,
        total_minor bigint,
        currency text,
        payment_method text,
        payment_attempts integer NOT NULL DEFAULT 0,
        debit_transaction_id uuid,
        refund_minor bigint,
        awaiting_release boolean NOT NULL DEFAULT false,
        awaiting_refund boolean NOT NULL DEFAULT false,
        failure_code text,
        failure_message text,
        cancel_reason text,
        starts_at timestamptz,
        ends_at timestamptz,
        -- When a transitional booking stops waiting patiently and counts as stuck.
        deadline_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        reserved_at timestamptz,
        expires_at timestamptz,
        payment_requested_at timestamptz,
        confirmed_at timestamptz,
        completed_at timestamptz,
        cancelled_at timestamptz,
        expired_at timestamptz,
        failed_at timestamptz,
        deleted_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_bookings_status CHECK (status IN ({STATUSES})),
        CONSTRAINT ck_bookings_priced CHECK ((total_minor IS NULL) = (currency IS NULL)),
        CONSTRAINT ck_bookings_total CHECK (total_minor >= 0),
        CONSTRAINT ck_bookings_refund CHECK (refund_minor >= 0 AND refund_minor <= total_minor),
        CONSTRAINT ck_bookings_payment_method CHECK (payment_method IN ('wallet')),
        CONSTRAINT ck_bookings_reserved_has_deadline
            CHECK (status NOT IN ('reserved', 'payment_pending', 'confirming') OR expires_at IS NOT NULL),
        CONSTRAINT ck_bookings_deadline
            CHECK ((status IN ('pending', 'payment_pending', 'confirming', 'cancelling')) = (deadline_at IS NOT NULL)),
        CONSTRAINT ck_bookings_deleted_only_when_over
            CHECK (deleted_at IS NULL OR status IN ('completed', 'cancelled', 'expired', 'failed'))
    )
    """,
    "CREATE INDEX ix_bookings_customer ON bookings (customer_id, created_at DESC, id DESC)",
    "CREATE INDEX ix_bookings_created ON bookings (created_at DESC, id DESC)",
    "CREATE INDEX ix_bookings_status ON bookings (status, created_at DESC, id DESC)",
    # The timers' work lists: each partial index holds only the bookings a timer may act on.
    "CREATE INDEX ix_bookings_reserved_expiry ON bookings (expires_at) WHERE status = 'reserved'",
    "CREATE INDEX ix_bookings_confirmed_end ON bookings (ends_at) WHERE status = 'confirmed'",
    "CREATE INDEX ix_bookings_deadline ON bookings (deadline_at) WHERE deadline_at IS NOT NULL",
    """
    CREATE TABLE booking_transitions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        booking_id uuid NOT NULL REFERENCES bookings (id),
        from_status text,
        to_status text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        -- The message that caused the change; null for a request or a timer.
        message_id uuid,
        -- The request that caused it (the caller and its Idempotency-Key), so a retry finds what it already did.
        request_key text
    )
    """,
    "CREATE INDEX ix_booking_transitions_booking ON booking_transitions (booking_id, id)",
    "CREATE UNIQUE INDEX uq_booking_transitions_request ON booking_transitions (booking_id, request_key)",
]

DOWNGRADE = ["DROP TABLE booking_transitions", "DROP TABLE bookings"]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
