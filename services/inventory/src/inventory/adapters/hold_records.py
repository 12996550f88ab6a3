"""Hold rows and their priced items: the memory that makes every hold command idempotent forever."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import RowMapping, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from inventory.adapters.tables import hold_items, holds, operators, property_owners, room_types, schedules
from inventory.adapters.tables import hotels as hotels_table
from inventory.domain.holds import HoldStatus, RoomType, Schedule
from tripline.contracts.inventory import HeldItem

HELD_ITEMS: TypeAdapter[list[HeldItem]] = TypeAdapter(list[HeldItem])


def claim(session: Session, booking_id: uuid.UUID, status: HoldStatus, reason: str | None = None) -> bool:
    """Create the booking's hold row; False if it already has one (a concurrent twin waits for ours)."""
    created = session.execute(
        upsert(holds)
        .values(booking_id=booking_id, status=status.value, reason=reason)
        .on_conflict_do_nothing()
        .returning(holds.c.booking_id)
    ).first()
    return created is not None


def lock(session: Session, booking_id: uuid.UUID) -> RowMapping | None:
    """The booking's hold row, locked until the transaction ends."""
    return session.execute(select(holds).where(holds.c.booking_id == booking_id).with_for_update()).mappings().first()


def find(session: Session, booking_id: uuid.UUID) -> RowMapping | None:
    """The booking's hold row, unlocked."""
    return session.execute(select(holds).where(holds.c.booking_id == booking_id)).mappings().first()


def record_held(
    session: Session, booking_id: uuid.UUID, items: Sequence[HeldItem], expires_at: datetime, total_minor: int
) -> None:
    """Remember the priced items and the hold's deadline."""
    session.execute(
        insert(hold_items),
        [
            {"booking_id": booking_id, "position": n, "item": item.model_dump(mode="json")}
            for n, item in enumerate(items)
        ],
    )
    currency = items[0].price.currency
    session.execute(
        update(holds)
        .where(holds.c.booking_id == booking_id)
        .values(expires_at=expires_at, total_minor=total_minor, currency=currency)
    )


def record_outcome(session: Session, booking_id: uuid.UUID, status: HoldStatus, **values: Any) -> None:
    """Move the hold to ``status``, recording when and why."""
    session.execute(update(holds).where(holds.c.booking_id == booking_id).values(status=status.value, **values))


def items_of(session: Session, booking_id: uuid.UUID) -> list[HeldItem]:
    """The hold's priced items, in the order the booking asked for them."""
    rows = session.execute(
        select(hold_items.c.item).where(hold_items.c.booking_id == booking_id).order_by(hold_items.c.position)
    ).scalars()
    return HELD_ITEMS.validate_python(list(rows))


def lapsed(session: Session, grace_seconds: float, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` held holds past their grace period, locked; rows another sweeper holds are skipped."""
    return list(
        session.execute(
            select(holds.c.booking_id)
            .where(holds.c.status == HoldStatus.HELD.value)
            .where(holds.c.expires_at < text("now() - make_interval(secs => :grace)").bindparams(grace=grace_seconds))
            .order_by(holds.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def schedule_for_sale(session: Session, schedule_id: uuid.UUID) -> tuple[Schedule, RowMapping] | None:
    """What reserving a schedule's seats checks, and the row it prices from."""
    row = (
        session.execute(
            select(schedules, operators.c.approval_status.label("operator_status"))
            .join(operators, operators.c.id == schedules.c.operator_id)
            .where(schedules.c.id == schedule_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Schedule(status=row["status"], operator_status=row["operator_status"], departs_at=row["departs_at"]), row


def room_type_for_sale(session: Session, room_type_id: uuid.UUID) -> RoomType | None:
    """What reserving a room type's nights checks."""
    row = (
        session.execute(
            select(room_types.c.hotel_id, hotels_table.c.is_active, property_owners.c.approval_status)
            .join(hotels_table, hotels_table.c.id == room_types.c.hotel_id)
            .join(property_owners, property_owners.c.id == hotels_table.c.owner_id)
            .where(room_types.c.id == room_type_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return RoomType(hotel_id=row["hotel_id"], hotel_active=row["is_active"], owner_status=row["approval_status"])
