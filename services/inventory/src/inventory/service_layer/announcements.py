"""Events for search's read model, built from the rows as they stand inside the changing transaction.

Each carries its aggregate's version, bumped by the same transaction, so search can ignore anything older than
what it already holds. Every function here only queues outbox rows: they publish after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.adapters.tables import buses, hotels, room_types, schedules
from tripline.contracts.inventory import (
    HotelUpserted,
    OperatorStatusChanged,
    OwnerStatusChanged,
    RoomNight,
    RoomNightsChanged,
    RoomTypeView,
    ScheduleUpserted,
    SeatsChanged,
)
from tripline.contracts.values import Money
from tripline.messaging.contracts import Contract

Row = Mapping[Any, Any]  # a RowMapping or a plain dict


def supplier_status_changed(kind: str, supplier: Row) -> Contract:
    """``operator.status_changed`` or ``owner.status_changed`` for a supplier row."""
    if kind == "operator":
        return OperatorStatusChanged(
            operator_id=supplier["id"],
            name=supplier["name"],
            approval_status=supplier["approval_status"],
            version=supplier["version"],
        )
    return OwnerStatusChanged(
        owner_id=supplier["id"],
        name=supplier["name"],
        approval_status=supplier["approval_status"],
        version=supplier["version"],
    )


def schedule_upserted(session: Session, schedule_id: uuid.UUID) -> ScheduleUpserted:
    """The whole picture of one schedule, as of this transaction."""
    row = (
        session.execute(
            select(schedules, buses.c.bus_type, buses.c.amenities)
            .join(buses, buses.c.id == schedules.c.bus_id)
            .where(schedules.c.id == schedule_id)
        )
        .mappings()
        .one()
    )
    return ScheduleUpserted(
        schedule_id=row["id"],
        operator_id=row["operator_id"],
        bus_id=row["bus_id"],
        bus_type=row["bus_type"],
        amenities=list(row["amenities"]),
        origin=row["origin"],
        destination=row["destination"],
        departs_at=row["departs_at"],
        arrives_at=row["arrives_at"],
        fare=Money(amount_minor=row["fare_minor"], currency=row["currency"]),
        status=row["status"],
        total_seats=row["total_seats"],
        available_seats=row["available_seats"],
        version=row["version"],
        seats_version=row["seats_version"],
    )


def seats_changed(schedule_id: uuid.UUID, available_seats: int, version: int) -> SeatsChanged:
    """A schedule's new count of free seats."""
    return SeatsChanged(schedule_id=schedule_id, available_seats=available_seats, version=version)


def hotel_with_room_types(session: Session, hotel_id: uuid.UUID) -> dict[str, Any]:
    """The hotel row with ``room_types``: its room type rows, oldest first."""
    hotel = session.execute(select(hotels).where(hotels.c.id == hotel_id)).mappings().one()
    kinds = session.execute(
        select(room_types).where(room_types.c.hotel_id == hotel_id).order_by(room_types.c.created_at, room_types.c.id)
    )
    return {**hotel, "room_types": [dict(kind) for kind in kinds.mappings()]}


def hotel_upserted(session: Session, hotel_id: uuid.UUID) -> HotelUpserted:
    """The whole descriptive picture of one hotel with its room types, as of this transaction."""
    hotel = hotel_with_room_types(session, hotel_id)
    return HotelUpserted(
        hotel_id=hotel["id"],
        owner_id=hotel["owner_id"],
        name=hotel["name"],
        city=hotel["city"],
        address=hotel["address"],
        stars=hotel["stars"],
        amenities=list(hotel["amenities"]),
        is_active=hotel["is_active"],
        room_types=[
            RoomTypeView(
                room_type_id=kind["id"], name=kind["name"], capacity=kind["capacity"], amenities=kind["amenities"]
            )
            for kind in hotel["room_types"]
        ],
        version=hotel["version"],
    )


def room_nights_changed(room_type_id: uuid.UUID, hotel_id: uuid.UUID, nights: Iterable[Row]) -> RoomNightsChanged:
    """Nights of one room type, from ``room_nights`` rows (after their change)."""
    return RoomNightsChanged(
        room_type_id=room_type_id,
        hotel_id=hotel_id,
        nights=[
            RoomNight(
                night=night["night"],
                total=night["total"],
                available=night["total"] - night["held"] - night["sold"],
                rate=Money(amount_minor=night["rate_minor"], currency=night["currency"]),
                version=night["version"],
            )
            for night in nights
        ],
    )
