"""Hold rows and their priced items: the memory that makes every hold command idempotent forever."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import RowMapping, SmallInteger, Update, Uuid, bindparam, cast, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from inventory.adapters.tables import hold_items, holds
from inventory.domain.holds import HoldStatus
from tripline.contracts.inventory import HeldItem

HELD_ITEMS: TypeAdapter[list[HeldItem]] = TypeAdapter(list[HeldItem])


def claim(session: Session, booking_id: uuid.UUID, status: HoldStatus, reason: str | None = None) -> datetime | None:
    """Create the booking's hold row and return the database's clock (the transaction's start, read by the same
    statement); None if it already has one (a concurrent twin waits for ours)."""
    return session.execute(
        upsert(holds)
        .values(booking_id=booking_id, status=status.value, reason=reason)
        .on_conflict_do_nothing()
        .returning(func.now())
    ).scalar()


def lock(session: Session, booking_id: uuid.UUID) -> tuple[RowMapping, datetime] | None:
    """The booking's hold row, locked until the transaction ends, with the database's clock (the transaction's
    start) read by the same statement; None if it has none."""
    row = (
        session.execute(
            select(holds, func.now().label("database_now")).where(holds.c.booking_id == booking_id).with_for_update()
        )
        .mappings()
        .first()
    )
    return None if row is None else (row, row["database_now"])


def record_held(session: Session, booking_id: uuid.UUID, items: Sequence[HeldItem], expires_at: datetime) -> None:
    """Remember the priced items and the hold's deadline, in one statement."""
    items_json = [item.model_dump(mode="json") for item in items]
    session.execute(_RECORD_HELD, {"held_booking": booking_id, "items": items_json, "held_until": expires_at})


def _record_held_statement() -> Update:
    # Built once, with the items as one JSON array parameter: a statement listing them as rows would be a new one
    # for each number of items, and SQLAlchemy compiles such a statement again on every call.
    item = (
        func.jsonb_array_elements(bindparam("items", type_=JSONB))
        .table_valued("value", with_ordinality="number")
        .render_derived()
    )
    remembered = (
        insert(hold_items)
        .from_select(
            ["booking_id", "position", "item"],
            select(bindparam("held_booking", type_=Uuid), cast(item.c.number - 1, SmallInteger), item.c.value),
        )
        .cte("remembered")
    )
    return (
        update(holds)
        .add_cte(remembered)
        .where(holds.c.booking_id == bindparam("held_booking", type_=Uuid))
        .values(expires_at=bindparam("held_until"))
    )


_RECORD_HELD = _record_held_statement()


def record_outcome(session: Session, booking_id: uuid.UUID, status: HoldStatus, **values: Any) -> None:
    """Move the hold to ``status``, recording when and why."""
    session.execute(update(holds).where(holds.c.booking_id == booking_id).values(status=status.value, **values))


def items_of(session: Session, booking_id: uuid.UUID) -> list[HeldItem]:
    """The hold's priced items, in the order the booking asked for them."""
    rows = session.execute(
        select(hold_items.c.item).where(hold_items.c.booking_id == booking_id).order_by(hold_items.c.position)
    ).scalars()
    return HELD_ITEMS.validate_python(list(rows))


def next_lapsed(session: Session, grace_seconds: float) -> uuid.UUID | None:
    """The oldest held hold past its grace period, locked; holds another sweeper has claimed are skipped."""
    return session.execute(
        select(holds.c.booking_id)
        .where(holds.c.status == HoldStatus.HELD.value)
        .where(holds.c.expires_at < text("now() - make_interval(secs => :grace)").bindparams(grace=grace_seconds))
        .order_by(holds.c.expires_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
