"""Use cases of the fleet: register a bus, publish a schedule with its seats, cancel it, and read them back."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.adapters.tables import buses, operators, schedules, seats
from inventory.domain.fleet import BusSpec, Departure, ScheduleStatus, ensure_cancellable
from inventory.service_layer.announcements import schedule_upserted
from inventory.service_layer.errors import NotVisible, violates_unique
from tripline.auth.tokens import Principal
from tripline.messaging.outbox import OutboxUnitOfWork

Row = dict[str, Any]

_REGISTRATION_UNIQUE = "uq_buses_registration"


class RegistrationTaken(Exception):
    """Another bus on the platform already carries this registration."""

    def __init__(self, registration: str):
        super().__init__(f"registration {registration} is taken")
        self.registration = registration


def register_bus(uow: OutboxUnitOfWork, account_id: str, operator_id: uuid.UUID, bus: BusSpec) -> Row:
    """Add a bus to an operator's fleet, for the account that runs the operator."""
    with uow:
        owned = select(operators.c.id).where(operators.c.id == operator_id, operators.c.account_id == account_id)
        if uow.session.execute(owned).first() is None:
            raise NotVisible("operator")
        row = _insert_bus(uow.session, operator_id, bus)
        uow.commit()
    return row


def _insert_bus(session: Session, operator_id: uuid.UUID, bus: BusSpec) -> Row:
    statement = insert(buses).values(
        id=uuid.uuid4(),
        operator_id=operator_id,
        registration=bus.registration,
        bus_type=bus.bus_type,
        amenities=list(bus.amenities),
        seat_labels=list(bus.seat_labels),
    )
    try:
        return dict(session.execute(statement.returning(buses)).mappings().one())
    except IntegrityError as error:
        if violates_unique(error, _REGISTRATION_UNIQUE):  # racing registrations included
            raise RegistrationTaken(bus.registration) from None
        raise


def find_bus(uow: OutboxUnitOfWork, bus_id: uuid.UUID, viewer: Principal) -> Row:
    """The bus, if the viewer runs its operator or is an admin."""
    with uow:
        query = select(buses).join(operators, operators.c.id == buses.c.operator_id)
        row = uow.session.execute(query.where(buses.c.id == bus_id, _visible_to(viewer))).mappings().first()
    if row is None:
        raise NotVisible("bus")
    return dict(row)


def publish_schedule(uow: OutboxUnitOfWork, account_id: str, bus_id: uuid.UUID, departure: Departure) -> Row:
    """Put a departure of the account's bus on sale, with one free seat per seat label."""
    with uow:
        bus = _owned_bus(uow.session, bus_id, account_id)
        schedule_id = uuid.uuid4()
        _insert_schedule(uow.session, schedule_id, bus, departure)
        _insert_seats(uow.session, schedule_id, bus["seat_labels"])
        view = _announced(uow, schedule_id)
        uow.commit()
    return view


def _owned_bus(session: Session, bus_id: uuid.UUID, account_id: str) -> Row:
    query = (
        select(buses.c.id, buses.c.operator_id, buses.c.seat_labels)
        .join(operators, operators.c.id == buses.c.operator_id)
        .where(buses.c.id == bus_id, operators.c.account_id == account_id)
    )
    bus = session.execute(query).mappings().first()
    if bus is None:
        raise NotVisible("bus")
    return dict(bus)


def _insert_schedule(session: Session, schedule_id: uuid.UUID, bus: Row, departure: Departure) -> None:
    seat_count = len(bus["seat_labels"])
    session.execute(
        insert(schedules).values(
            id=schedule_id,
            operator_id=bus["operator_id"],
            bus_id=bus["id"],
            origin=departure.origin,
            destination=departure.destination,
            departs_at=departure.departs_at,
            arrives_at=departure.arrives_at,
            fare_minor=departure.fare_minor,
            currency=departure.currency,
            status=ScheduleStatus.ACTIVE.value,
            total_seats=seat_count,
            available_seats=seat_count,
            version=1,
        )
    )


def _insert_seats(session: Session, schedule_id: uuid.UUID, labels: list[str]) -> None:
    # One executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues").
    rows = [
        {"schedule_id": schedule_id, "seat_no": label, "position": i, "status": "free"}
        for i, label in enumerate(labels)
    ]
    session.execute(insert(seats), rows)


def find_schedule(uow: OutboxUnitOfWork, schedule_id: uuid.UUID) -> Row:
    """A schedule with its seat map; every authenticated caller may look."""
    with uow:
        view = _schedule_view(uow.session, schedule_id)
    if view is None:
        raise NotVisible("schedule")
    return view


def cancel_schedule(uow: OutboxUnitOfWork, schedule_id: uuid.UUID, caller: Principal) -> Row:
    """Take a future departure off sale; its holds and sold seats are the holds side's to settle."""
    with uow:
        current = _lock_schedule(uow.session, schedule_id, caller)
        now = uow.clock()
        ensure_cancellable(current["status"], current["departs_at"], now)
        uow.session.execute(
            update(schedules)
            .where(schedules.c.id == schedule_id)
            .values(status=ScheduleStatus.CANCELLED.value, cancelled_at=now, version=schedules.c.version + 1)
        )
        view = _announced(uow, schedule_id)
        uow.commit()
    return view


def _lock_schedule(session: Session, schedule_id: uuid.UUID, caller: Principal) -> Row:
    """The schedule's status and departure, locked until commit so two cancels cannot both pass the check."""
    locked = (
        select(schedules.c.status, schedules.c.departs_at)
        .join(operators, operators.c.id == schedules.c.operator_id)
        .where(schedules.c.id == schedule_id, _visible_to(caller))
        .with_for_update(of=schedules)
    )
    current = session.execute(locked).mappings().first()
    if current is None:
        raise NotVisible("schedule")
    return dict(current)


def _announced(uow: OutboxUnitOfWork, schedule_id: uuid.UUID) -> Row:
    """Queue the schedule's new version for search, and read it back as the caller will see it."""
    uow.outbox.add(schedule_upserted(uow.session, schedule_id))
    view = _schedule_view(uow.session, schedule_id)
    assert view is not None  # written by this very transaction
    return view


def _visible_to(viewer: Principal) -> ColumnElement[bool]:
    """Admins see every operator's fleet; an operator account only its own."""
    return true() if viewer.is_admin else operators.c.account_id == viewer.sub


def _schedule_view(session: Session, schedule_id: uuid.UUID) -> Row | None:
    """The schedule row with ``seat_map``: (label, status) pairs in the bus' seat order."""
    # One statement, so one snapshot: the seat map and available_seats agree even while holds commit.
    query = select(
        schedules,
        _in_seat_order(seats.c.seat_no).label("seat_labels"),
        _in_seat_order(seats.c.status).label("seat_statuses"),
    ).where(schedules.c.id == schedule_id)
    row = session.execute(query).mappings().first()
    if row is None:
        return None
    view = dict(row)
    view["seat_map"] = list(zip(view.pop("seat_labels"), view.pop("seat_statuses"), strict=True))
    return view


def _in_seat_order(column: ColumnElement[str]) -> ScalarSelect[list[str]]:
    ordered = func.array_agg(aggregate_order_by(column, seats.c.position))
    return select(ordered).where(seats.c.schedule_id == schedules.c.id).scalar_subquery()
