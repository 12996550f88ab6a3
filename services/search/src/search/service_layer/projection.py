"""The read model, kept by inventory's supply events and applied by version.

Every row remembers the version of the aggregate it shows, and an upsert only replaces it with a newer one, so a
duplicate or a late event changes nothing and the tables end the same whatever order events arrive in. Each kind
of fact has its own table and its own version (a trip's description, its free seats, an operator's approval, one
room night), so two facts never overwrite each other, and none waits for another: a night may arrive before its
hotel, a trip before its operator. Queries list only what is complete, approved and active.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import Executable, Table, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from search.adapters.tables import hotels, operators, property_owners, room_nights, room_types, trip_seats, trips
from search.domain.criteria import place_key
from tripline.contracts.inventory import (
    HotelUpserted,
    OperatorStatusChanged,
    OwnerStatusChanged,
    RoomNightsChanged,
    ScheduleUpserted,
    SeatsChanged,
)
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.timestamps import utcnow

PROJECTION_LAG = Histogram(
    "tripline_search_projection_lag_seconds",
    "From a change committed in inventory (its event's occurred_at) to search applying it",
    ["event"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
NIGHTS_PER_STATEMENT = 1_000  # eight parameters a night, well inside PostgreSQL's 65,535


def on_operator_status_changed(event: OperatorStatusChanged, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """An operator's name and approval: its trips are listed only while it is approved."""
    _supplier(uow.session, operators, event.operator_id, event.name, event.approval_status, event.version)
    _measure_lag(envelope, uow)


def on_owner_status_changed(event: OwnerStatusChanged, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """A property owner's name and approval: its hotels are listed only while it is approved."""
    _supplier(uow.session, property_owners, event.owner_id, event.name, event.approval_status, event.version)
    _measure_lag(envelope, uow)


def on_schedule_upserted(event: ScheduleUpserted, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """A schedule's whole picture: its description by ``version``, its free seats by ``seats_version``."""
    upsert_newer(
        uow.session,
        trips,
        [
            {
                "schedule_id": event.schedule_id,
                "operator_id": event.operator_id,
                "bus_type": event.bus_type,
                "amenities": event.amenities,
                "origin": event.origin,
                "destination": event.destination,
                "origin_key": place_key(event.origin),
                "destination_key": place_key(event.destination),
                "departs_at": event.departs_at,
                "arrives_at": event.arrives_at,
                "duration_minutes": int((event.arrives_at - event.departs_at).total_seconds() // 60),
                "fare_minor": event.fare.amount_minor,
                "currency": event.fare.currency,
                "status": event.status,
                "total_seats": event.total_seats,
                "version": event.version,
            }
        ],
    )
    _seats(uow.session, event.schedule_id, event.available_seats, event.seats_version)
    _measure_lag(envelope, uow)


def on_seats_changed(event: SeatsChanged, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Seats held, released, sold or expired on one schedule."""
    _seats(uow.session, event.schedule_id, event.available_seats, event.version)
    _measure_lag(envelope, uow)


def on_hotel_upserted(event: HotelUpserted, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """A hotel and its room types, as one picture: a newer one replaces the room types too."""
    hotel = {
        "id": event.hotel_id,
        "owner_id": event.owner_id,
        "name": event.name,
        "city": event.city,
        "city_key": place_key(event.city),
        "address": event.address,
        "stars": event.stars,
        "amenities": event.amenities,
        "is_active": event.is_active,
        "version": event.version,
    }
    if upsert_newer(uow.session, hotels, [hotel]):
        _replace_room_types(uow.session, event)
    _measure_lag(envelope, uow)


def on_room_nights_changed(event: RoomNightsChanged, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Allotments, availability and rates of some nights of one room type, each night by its own version."""
    nights = [
        {
            "room_type_id": event.room_type_id,
            "night": night.night,
            "hotel_id": event.hotel_id,
            "total": night.total,
            "available": night.available,
            "rate_minor": night.rate.amount_minor,
            "currency": night.rate.currency,
            "version": night.version,
        }
        for night in event.nights
    ]
    for start in range(0, len(nights), NIGHTS_PER_STATEMENT):
        upsert_newer(uow.session, room_nights, nights[start : start + NIGHTS_PER_STATEMENT])
    _measure_lag(envelope, uow)


def upsert_newer(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], version: str | None = "version"
) -> int:
    """Insert ``rows``, or replace those the table holds at an older ``version`` (any, when ``version`` is None);
    returns how many were written."""
    if not rows:
        return 0
    written = session.execute(_upsert_newer(table, tuple(rows[0]), version), list(rows)).all()
    return len(written)


@cache
def _upsert_newer(table: Table, columns: tuple[str, ...], version: str | None) -> Executable:
    # Built once per table and columns, and given the rows as a list: SQLAlchemy then compiles it once, and still
    # sends the rows in one INSERT. A statement with the rows in it (.values([...])) is compiled on every call.
    statement = insert(table)
    keys = [column.name for column in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in columns if name not in keys},
        where=None if version is None else table.c[version] < statement.excluded[version],
    ).returning(*table.primary_key.columns)


def _supplier(session: Session, table: Table, supplier_id: Any, name: str, status: str, version: int) -> None:
    upsert_newer(session, table, [{"id": supplier_id, "name": name, "approval_status": status, "version": version}])


def _seats(session: Session, schedule_id: Any, available_seats: int, seats_version: int) -> None:
    row = {"schedule_id": schedule_id, "available_seats": available_seats, "seats_version": seats_version}
    upsert_newer(session, trip_seats, [row], version="seats_version")


def _replace_room_types(session: Session, event: HotelUpserted) -> None:
    listed = [room.room_type_id for room in event.room_types]
    session.execute(delete(room_types).where(room_types.c.hotel_id == event.hotel_id, room_types.c.id.not_in(listed)))
    # The hotel's version, just written, already decided that this picture is the newest.
    rows = [
        {
            "id": room.room_type_id,
            "hotel_id": event.hotel_id,
            "name": room.name,
            "capacity": room.capacity,
            "amenities": room.amenities,
        }
        for room in event.room_types
    ]
    upsert_newer(session, room_types, rows, version=None)


def _measure_lag(envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    # Once search has committed it, the change is visible: a rolled-back attempt observes nothing.
    def observe() -> None:
        PROJECTION_LAG.labels(event=envelope.type).observe(max((utcnow() - envelope.occurred_at).total_seconds(), 0.0))

    uow.after_commit(observe)
