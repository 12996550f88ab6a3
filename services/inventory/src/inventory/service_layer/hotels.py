"""Hotels, their room types and each night's allotment: one transaction per use case.

A hotel belongs to a property owner, and the owner to an account; a caller acts on a hotel (and what hangs
from it) only through that account, or as an admin where the route lets admins in. Anything else looks exactly
like an unknown id. Every change bumps the version of what it changed and queues the event search reads, in the
same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.adapters.tables import hotels, property_owners, room_nights, room_types
from inventory.domain.stays import NightRange
from inventory.service_layer.announcements import hotel_upserted, hotel_with_room_types, room_nights_changed
from inventory.service_layer.errors import NotVisible, violates_unique, visible_to
from tripline.auth.tokens import Principal
from tripline.messaging.outbox import OutboxUnitOfWork

Row = Mapping[str, Any]

ROOM_TYPE_NAME_KEY = "uq_room_types_hotel_id_name"


class DuplicateRoomType(Exception):
    """The hotel already has a room type with that name."""


class AllotmentBelowBooked(Exception):
    """Some nights already hold or sell more rooms than the new allotment; nothing was changed."""

    def __init__(self, nights: Sequence[date]):
        super().__init__("allotment below held + sold on " + ", ".join(n.isoformat() for n in nights))
        self.nights = list(nights)


def register_hotel(uow: OutboxUnitOfWork, principal: Principal, owner_id: uuid.UUID, description: Row) -> Row:
    """Add a hotel to the caller's property owner (approved or not yet) and announce it."""
    with uow:
        account_id = uow.session.execute(
            select(property_owners.c.account_id).where(property_owners.c.id == owner_id)
        ).scalar_one_or_none()
        if account_id is None or account_id != principal.sub:
            raise NotVisible("property owner")
        hotel_id = uuid.uuid4()
        uow.session.execute(insert(hotels).values(id=hotel_id, owner_id=owner_id, **description))
        uow.outbox.add(hotel_upserted(uow.session, hotel_id))
        hotel = hotel_with_room_types(uow.session, hotel_id)
        uow.commit()
    return hotel


def find_hotel(uow: OutboxUnitOfWork, principal: Principal, hotel_id: uuid.UUID) -> Row:
    """The hotel with its room types, if the caller may see it."""
    with uow:
        _visible_hotel(uow.session, principal, hotel_id)
        return hotel_with_room_types(uow.session, hotel_id)


def revise_hotel(uow: OutboxUnitOfWork, principal: Principal, hotel_id: uuid.UUID, changes: Row) -> Row:
    """Change some of a hotel's description under its row lock, and announce the new version."""
    with uow:
        _visible_hotel(uow.session, principal, hotel_id, lock=True)
        _bump_hotel(uow.session, hotel_id, changes)
        uow.outbox.add(hotel_upserted(uow.session, hotel_id))
        hotel = hotel_with_room_types(uow.session, hotel_id)
        uow.commit()
    return hotel


def add_room_type(uow: OutboxUnitOfWork, principal: Principal, hotel_id: uuid.UUID, room_type: Row) -> Row:
    """Add a room type to a hotel; the hotel's new version announces it."""
    with uow:
        # The hotel's lock orders concurrent additions, so each announced version has every room type before it.
        _visible_hotel(uow.session, principal, hotel_id, lock=True)
        added = _insert_room_type(uow.session, hotel_id, room_type)
        _bump_hotel(uow.session, hotel_id, {})
        uow.outbox.add(hotel_upserted(uow.session, hotel_id))
        uow.commit()
    return added


def find_room_type(uow: OutboxUnitOfWork, principal: Principal, room_type_id: uuid.UUID) -> Row:
    """One room type, if the caller may see its hotel."""
    with uow:
        return _visible_room_type(uow.session, principal, room_type_id)


def set_allotment(
    uow: OutboxUnitOfWork, principal: Principal, room_type_id: uuid.UUID, span: NightRange, rooms: int, rate: Row
) -> list[Row]:
    """Set rooms and rate on every night of ``span``, all or none, and announce the nights changed."""
    with uow:
        room_type = _visible_room_type(uow.session, principal, room_type_id)
        changed = _upsert_nights(uow.session, room_type_id, span, rooms, rate)
        if len(changed) < span.count:
            # The guard skipped nights that already hold or sell more; the unit of work rolls the rest back.
            raise AllotmentBelowBooked(_nights_booked_beyond(uow.session, room_type_id, span, rooms))
        uow.outbox.add(room_nights_changed(room_type_id, room_type["hotel_id"], changed))
        uow.commit()
    return changed


def allotment(uow: OutboxUnitOfWork, principal: Principal, room_type_id: uuid.UUID, span: NightRange) -> list[Row]:
    """The nights of ``span`` that have an allotment, earliest first."""
    with uow:
        _visible_room_type(uow.session, principal, room_type_id)
        rows = uow.session.execute(
            select(room_nights).where(*_nights_of(room_type_id, span)).order_by(room_nights.c.night)
        )
        return [dict(row) for row in rows.mappings()]


def _visible_hotel(session: Session, principal: Principal, hotel_id: uuid.UUID, *, lock: bool = False) -> None:
    query = (
        select(property_owners.c.account_id)
        .select_from(hotels)
        .join(property_owners, property_owners.c.id == hotels.c.owner_id)
        .where(hotels.c.id == hotel_id)
    )
    if lock:
        query = query.with_for_update(of=hotels)
    visible_to(principal, session.execute(query).mappings().first(), "hotel")


def _visible_room_type(session: Session, principal: Principal, room_type_id: uuid.UUID) -> Row:
    row = (
        session.execute(
            select(room_types, property_owners.c.account_id)
            .join(hotels, hotels.c.id == room_types.c.hotel_id)
            .join(property_owners, property_owners.c.id == hotels.c.owner_id)
            .where(room_types.c.id == room_type_id)
        )
        .mappings()
        .first()
    )
    return {key: value for key, value in visible_to(principal, row, "room type").items() if key != "account_id"}


def _insert_room_type(session: Session, hotel_id: uuid.UUID, room_type: Row) -> Row:
    statement = insert(room_types).values(id=uuid.uuid4(), hotel_id=hotel_id, **room_type).returning(room_types)
    try:
        return dict(session.execute(statement).mappings().one())
    except IntegrityError as error:
        if violates_unique(error, ROOM_TYPE_NAME_KEY):  # racing twins included: the unique key decides
            raise DuplicateRoomType(room_type["name"]) from None
        raise


def _bump_hotel(session: Session, hotel_id: uuid.UUID, changes: Row) -> None:
    session.execute(
        update(hotels)
        .where(hotels.c.id == hotel_id)
        .values(**changes, version=hotels.c.version + 1, updated_at=func.now())
    )


def _upsert_nights(session: Session, room_type_id: uuid.UUID, span: NightRange, rooms: int, rate: Row) -> list[Row]:
    # One statement, rows in night order: nights are locked earliest first, like every hold does, so two
    # writers never wait on each other in a cycle. The guard leaves out (but still locks) any night that
    # already holds or sells more than ``rooms``; the CHECK constraint stands behind it.
    statement = upsert(room_nights).values(
        [
            {
                "room_type_id": room_type_id,
                "night": night,
                "total": rooms,
                "rate_minor": rate["amount_minor"],
                "currency": rate["currency"],
            }
            for night in span.nights()
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[room_nights.c.room_type_id, room_nights.c.night],
        set_={
            "total": statement.excluded.total,
            "rate_minor": statement.excluded.rate_minor,
            "currency": statement.excluded.currency,
            "version": room_nights.c.version + 1,
        },
        where=room_nights.c.held + room_nights.c.sold <= statement.excluded.total,
    )
    rows = session.execute(statement.returning(*room_nights.c)).mappings().all()
    return sorted((dict(row) for row in rows), key=lambda row: row["night"])


def _nights_booked_beyond(session: Session, room_type_id: uuid.UUID, span: NightRange, rooms: int) -> list[date]:
    return list(
        session.execute(
            select(room_nights.c.night)
            .where(*_nights_of(room_type_id, span), room_nights.c.held + room_nights.c.sold > rooms)
            .order_by(room_nights.c.night)
        ).scalars()
    )


def _nights_of(room_type_id: uuid.UUID, span: NightRange) -> tuple[ColumnElement[bool], ...]:
    return (
        room_nights.c.room_type_id == room_type_id,
        room_nights.c.night >= span.start,
        room_nights.c.night < span.end,
    )
