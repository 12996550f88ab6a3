"""Notify ``booking_moved`` with the booking's id and new status whenever its status changes, so a request waiting
on it (``GET /v1/bookings/{id}?wait=``) answers at once instead of polling.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Delivered at commit, so a waiter never reads a status that is not yet visible.
    op.execute(
        """
        CREATE FUNCTION notify_booking_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('booking_moved', NEW.id::text || ' ' || NEW.status);
            RETURN NULL;
        END $$;
        CREATE TRIGGER booking_moved_notify AFTER UPDATE OF status ON bookings
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION notify_booking_moved();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS booking_moved_notify ON bookings")
    op.execute("DROP FUNCTION IF EXISTS notify_booking_moved()")
