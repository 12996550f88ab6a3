"""Snapshot requests: search asks inventory to re-announce every aggregate, the worker answers later.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE snapshot_requests (
        request_id uuid PRIMARY KEY,
        requested_at timestamptz NOT NULL DEFAULT now(),
        announced_at timestamptz,
        counts jsonb
    )
    """,
    # The worker's timer looks only for requests not yet announced, oldest first.
    "CREATE INDEX ix_snapshot_requests_pending ON snapshot_requests (requested_at) WHERE announced_at IS NULL",
]

DOWNGRADE = [
    "DROP TABLE snapshot_requests",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
