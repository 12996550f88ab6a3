"""Alembic steps that create the plumbing tables; called from each service's first revision.

These functions are frozen once released: a later change to the plumbing tables is a new function called from
a new revision, so every service's migration history stays reproducible.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import MetaData

from tripline.db import new_metadata
from tripline.plumbing import OUTBOX_CHANNEL, define_plumbing_tables


def create_plumbing_v1() -> None:
    """Create outbox, inbox and idempotency_requests, and the trigger that wakes the relay."""
    metadata: MetaData = new_metadata()
    tables = define_plumbing_tables(metadata)
    bind = op.get_bind()
    for table in (tables.outbox, tables.inbox, tables.idempotency_requests):
        table.create(bind)
    # One NOTIFY per inserting statement, delivered at commit: the relay wakes only for committed rows.
    op.execute(
        f"""
        CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
        """
    )


def drop_plumbing_v1() -> None:
    """Undo ``create_plumbing_v1``."""
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox; DROP FUNCTION IF EXISTS notify_outbox();")
    for name in ("idempotency_requests", "inbox", "outbox"):
        op.drop_table(name)
