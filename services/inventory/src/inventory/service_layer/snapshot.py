"""Re-announce every aggregate to search, so its read model can be dropped and rebuilt at will.

Each event carries the aggregate's current version, so a read model that already holds it ignores the repeat.
Aggregates are announced in batches, one transaction each, so a large catalogue never holds one long transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from itertools import groupby

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from inventory.adapters.tables import hotels, operators, property_owners, room_nights, room_types, schedules
from inventory.service_layer.announcements import (
    hotel_upserted,
    room_nights_changed,
    schedule_upserted,
    supplier_status_changed,
)
from tripline.messaging.contracts import Contract
from tripline.messaging.outbox import OutboxUnitOfWork

BATCH = 500
Announcer = Callable[[OutboxUnitOfWork, list[uuid.UUID]], int]  # queues events for a batch of ids; returns how many


def announce_everything(unit_of_work: Callable[[], OutboxUnitOfWork]) -> dict[str, int]:
    """Queue one event per operator, owner, schedule and hotel, and one per room type with its nights."""
    announcers: dict[str, tuple[Table, Announcer]] = {
        "operator.status_changed": (operators, _suppliers("operator", operators)),
        "owner.status_changed": (property_owners, _suppliers("owner", property_owners)),
        "schedule.upserted": (schedules, _each(schedule_upserted)),
        "hotel.upserted": (hotels, _each(hotel_upserted)),
        "room_nights.changed": (room_types, _nights),
    }
    counts = dict.fromkeys(announcers, 0)
    for kind, (table, announce) in announcers.items():
        for batch in _batches(unit_of_work, table):
            with unit_of_work() as uow:
                counts[kind] += announce(uow, batch)
                uow.commit()
    return counts


def _suppliers(kind: str, table: Table) -> Announcer:
    def announce(uow: OutboxUnitOfWork, ids: list[uuid.UUID]) -> int:
        rows = uow.session.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
        for row in rows:
            uow.outbox.add(supplier_status_changed(kind, row))
        return len(rows)

    return announce


def _each(event_of: Callable[[Session, uuid.UUID], Contract]) -> Announcer:
    def announce(uow: OutboxUnitOfWork, ids: list[uuid.UUID]) -> int:
        for aggregate_id in ids:
            uow.outbox.add(event_of(uow.session, aggregate_id))
        return len(ids)

    return announce


def _nights(uow: OutboxUnitOfWork, room_type_ids: list[uuid.UUID]) -> int:
    rows = uow.session.execute(
        select(room_nights, room_types.c.hotel_id)
        .join(room_types, room_types.c.id == room_nights.c.room_type_id)
        .where(room_nights.c.room_type_id.in_(room_type_ids))
        .order_by(room_nights.c.room_type_id, room_nights.c.night)
    ).mappings()
    announced = 0
    for (room_type_id, hotel_id), nights in groupby(rows, key=lambda row: (row["room_type_id"], row["hotel_id"])):
        uow.outbox.add(room_nights_changed(room_type_id, hotel_id, list(nights)))
        announced += 1
    return announced


def _batches(unit_of_work: Callable[[], OutboxUnitOfWork], table: Table) -> Iterator[list[uuid.UUID]]:
    """Every id of ``table``, in keyset-paged batches."""
    after: uuid.UUID | None = None
    while True:
        with unit_of_work() as uow:
            query = select(table.c.id).order_by(table.c.id).limit(BATCH)
            if after is not None:
                query = query.where(table.c.id > after)
            batch = list(uow.session.execute(query).scalars())
        if not batch:
            return
        yield batch
        after = batch[-1]
