"""Outbox, inbox and idempotency tables.

Revision ID: 0001
Revises:
"""

from tripline.plumbing_migrations import create_plumbing_v1, drop_plumbing_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_v1()


def downgrade() -> None:
    drop_plumbing_v1()
