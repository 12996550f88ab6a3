"""Top-ups as they go: written down before the provider charges, finished when the ledger has the money."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from payments.adapters.tables import top_ups


def write_down(session: Session, **top_up: Any) -> RowMapping:
    """The pending top-up, or the one already written under its key; locked until the transaction ends."""
    session.execute(upsert(top_ups).values(**top_up).on_conflict_do_nothing())
    return lock(session, top_up["id"])


def lock(session: Session, top_up_id: uuid.UUID) -> RowMapping:
    """The top-up, locked: its charge is posted by one process only."""
    return session.execute(select(top_ups).where(top_ups.c.id == top_up_id).with_for_update()).mappings().one()


def record(session: Session, top_up_id: uuid.UUID, status: str, **values: Any) -> None:
    """Move the top-up to ``status`` (``pending`` again to retry it)."""
    session.execute(
        update(top_ups).where(top_ups.c.id == top_up_id).values(status=status, updated_at=func.now(), **values)
    )


def next_stale(session: Session, older_than_seconds: float) -> RowMapping | None:
    """The oldest top-up pending for longer than ``older_than_seconds``, locked; others' claims are skipped."""
    stale = top_ups.c.updated_at < text("now() - make_interval(secs => :age)").bindparams(age=older_than_seconds)
    return (
        session.execute(
            select(top_ups)
            .where(top_ups.c.status == "pending", stale)
            .order_by(top_ups.c.updated_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        .mappings()
        .first()
    )
