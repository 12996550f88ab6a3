"""Demo supply for the local stack: an approved operator with buses and a fortnight of departures, an approved
owner with two hotels and two months of rooms. Safe to run again: every step finds what an earlier run made.

Everything goes through the same use cases as the API, so search hears about it through the usual events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, select

from inventory.adapters.tables import buses, hotels, room_nights, room_types, schedules
from inventory.domain.approvals import ApprovalStatus, Decision
from inventory.domain.fleet import describe_bus, plan_departure
from inventory.domain.stays import NightRange, allotment_range
from inventory.service_layer import fleet
from inventory.service_layer import hotels as hotel_desk
from inventory.service_layer.suppliers import OPERATOR, OWNER, SupplierKind, register_supplier, review_supplier
from tripline.auth.tokens import Principal, Role
from tripline.contracts.inventory import BusType
from tripline.messaging.outbox import OutboxUnitOfWork

UnitOfWorkFactory = Callable[[], OutboxUnitOfWork]
OPERATOR_ACCOUNT, OWNER_ACCOUNT, ADMIN_ACCOUNT = "demo-operator", "demo-owner", "demo-admin"
DEMO_OWNER = Principal(OWNER_ACCOUNT, Role.OWNER)
DAYS_OF_DEPARTURES, NIGHTS_ON_SALE = 14, 60


class DemoBus(NamedTuple):
    registration: str
    bus_type: BusType
    amenities: list[str]
    seats: list[str]


class DemoRoute(NamedTuple):
    registration: str
    origin: str
    destination: str
    departs: time  # UTC
    hours: int
    fare_minor: int


class DemoRoomType(NamedTuple):
    name: str
    capacity: int
    rooms: int
    rate_minor: int


class DemoHotel(NamedTuple):
    name: str
    city: str
    address: str
    stars: int
    amenities: list[str]
    room_types: list[DemoRoomType]


BUSES = [
    DemoBus("MH-01-TL-1001", "seater", ["ac", "charging"], [f"{row}{seat}" for row in range(1, 11) for seat in "ABCD"]),
    DemoBus("KA-05-TL-2002", "sleeper", ["ac", "blanket"], [f"{deck}{n}" for deck in "LU" for n in range(1, 16)]),
]
ROUTES = [
    DemoRoute("MH-01-TL-1001", "Mumbai", "Goa", time(15, 30), 11, 120_000),
    DemoRoute("MH-01-TL-1001", "Goa", "Mumbai", time(6, 0), 11, 120_000),
    DemoRoute("KA-05-TL-2002", "Pune", "Bengaluru", time(14, 0), 15, 180_000),
]
HOTELS = [
    DemoHotel(
        "Sea Breeze Resort",
        "Goa",
        "12 Calangute Beach Road",
        4,
        ["wifi", "pool", "breakfast"],
        [DemoRoomType("Deluxe", 2, 10, 450_000), DemoRoomType("Family Suite", 4, 3, 900_000)],
    ),
    DemoHotel(
        "Garden City Inn", "Bengaluru", "8 MG Road", 3, ["wifi", "parking"], [DemoRoomType("Standard", 2, 15, 280_000)]
    ),
]


def seed_demo(unit_of_work: UnitOfWorkFactory, currency: str) -> dict[str, int]:
    """Create whatever demo supply is missing; returns how many schedules and room types got nights."""
    operator_id = _approved(unit_of_work, OPERATOR, OPERATOR_ACCOUNT, "Konkan Travels", "ops@konkan.example")
    owner_id = _approved(unit_of_work, OWNER, OWNER_ACCOUNT, "Coastal Stays", "hello@coastal.example")
    bus_ids = {bus.registration: _bus(unit_of_work, operator_id, bus) for bus in BUSES}
    departures = sum(_departures(unit_of_work, bus_ids[route.registration], route, currency) for route in ROUTES)
    stocked = sum(_hotel(unit_of_work, owner_id, hotel, currency) for hotel in HOTELS)
    return {"schedules_published": departures, "room_types_stocked": stocked}


def _approved(unit_of_work: UnitOfWorkFactory, kind: SupplierKind, account: str, name: str, email: str) -> uuid.UUID:
    found = _find(unit_of_work, kind.table, kind.table.c.account_id == account)
    supplier = found or register_supplier(unit_of_work(), kind, account, name, email)
    if supplier["approval_status"] == ApprovalStatus.PENDING:
        review_supplier(unit_of_work(), kind, supplier["id"], Decision.APPROVE, ADMIN_ACCOUNT, "demo data")
    return uuid.UUID(str(supplier["id"]))


def _bus(unit_of_work: UnitOfWorkFactory, operator_id: uuid.UUID, bus: DemoBus) -> uuid.UUID:
    found = _find(unit_of_work, buses, buses.c.registration == bus.registration)
    spec = describe_bus(bus.registration, bus.bus_type, bus.amenities, bus.seats)
    row = found or fleet.register_bus(unit_of_work(), OPERATOR_ACCOUNT, operator_id, spec)
    return uuid.UUID(str(row["id"]))


def _departures(unit_of_work: UnitOfWorkFactory, bus_id: uuid.UUID, route: DemoRoute, currency: str) -> int:
    now = datetime.now(UTC)
    published = 0
    for day in range(1, DAYS_OF_DEPARTURES + 1):
        departs_at = datetime.combine(now.date() + timedelta(days=day), route.departs, tzinfo=UTC)
        if _find(unit_of_work, schedules, schedules.c.bus_id == bus_id, schedules.c.departs_at == departs_at):
            continue
        arrives_at = departs_at + timedelta(hours=route.hours)
        departure = plan_departure(
            route.origin, route.destination, departs_at, arrives_at, route.fare_minor, currency, now=now
        )
        fleet.publish_schedule(unit_of_work(), OPERATOR_ACCOUNT, bus_id, departure)
        published += 1
    return published


def _hotel(unit_of_work: UnitOfWorkFactory, owner_id: uuid.UUID, hotel: DemoHotel, currency: str) -> int:
    found = _find(unit_of_work, hotels, hotels.c.owner_id == owner_id, hotels.c.name == hotel.name)
    description = {key: getattr(hotel, key) for key in ("name", "city", "address", "stars", "amenities")}
    row = found or hotel_desk.register_hotel(unit_of_work(), DEMO_OWNER, owner_id, description)
    today = datetime.now(UTC).date()
    span = allotment_range(today, today + timedelta(days=NIGHTS_ON_SALE), today=today)
    return sum(_room_type(unit_of_work, row["id"], kind, span, currency) for kind in hotel.room_types)


def _room_type(
    unit_of_work: UnitOfWorkFactory, hotel_id: uuid.UUID, kind: DemoRoomType, span: NightRange, currency: str
) -> int:
    found = _find(unit_of_work, room_types, room_types.c.hotel_id == hotel_id, room_types.c.name == kind.name)
    description = {"name": kind.name, "capacity": kind.capacity, "amenities": []}
    row = found or hotel_desk.add_room_type(unit_of_work(), DEMO_OWNER, hotel_id, description)
    last_night = span.end - timedelta(days=1)
    if _find(unit_of_work, room_nights, room_nights.c.room_type_id == row["id"], room_nights.c.night == last_night):
        return 0
    rate = {"amount_minor": kind.rate_minor, "currency": currency}
    hotel_desk.set_allotment(unit_of_work(), DEMO_OWNER, row["id"], span, kind.rooms, rate)
    return 1


def _find(unit_of_work: UnitOfWorkFactory, table: Table, *where: Any) -> dict[str, Any] | None:
    with unit_of_work() as uow:
        row = uow.session.execute(select(table).where(*where).limit(1)).mappings().first()
    return dict(row) if row else None
