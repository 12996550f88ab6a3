"""What reserving checks before it takes anything: is this schedule or room type for sale right now?

The supplier (and hotel) rows are read ``FOR SHARE``: an admin's suspension or an owner's deactivation, which
lock them for update, waits for reserves already past this check, and every later reserve sees the change.
"""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping, select
from sqlalchemy.orm import Session

from inventory.adapters.tables import hotels, operators, property_owners, room_types, schedules
from inventory.domain.holds import RoomType, Schedule


def schedule_for_sale(session: Session, schedule_id: uuid.UUID) -> tuple[Schedule, RowMapping] | None:
    """What reserving a schedule's seats checks, and the row it prices from."""
    row = (
        session.execute(
            select(schedules, operators.c.approval_status.label("operator_status"))
            .join(operators, operators.c.id == schedules.c.operator_id)
            .where(schedules.c.id == schedule_id)
            .with_for_update(read=True, of=operators)
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
            select(
                room_types.c.hotel_id,
                room_types.c.capacity,
                hotels.c.is_active,
                property_owners.c.approval_status,
            )
            .join(hotels, hotels.c.id == room_types.c.hotel_id)
            .join(property_owners, property_owners.c.id == hotels.c.owner_id)
            .where(room_types.c.id == room_type_id)
            .with_for_update(read=True, of=(hotels, property_owners))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return RoomType(
        hotel_id=row["hotel_id"],
        hotel_active=row["is_active"],
        owner_status=row["approval_status"],
        capacity=row["capacity"],
    )
