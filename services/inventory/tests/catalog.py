"""Supply rows written straight into the inventory database, for tests of holds that need something to hold."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from .support import sql

CURRENCY = "INR"


def operator(database_url: str, status: str = "approved", account: str | None = None) -> uuid.UUID:
    """An operator in ``status``."""
    return _supplier(database_url, "operators", status, account)


def owner(database_url: str, status: str = "approved", account: str | None = None) -> uuid.UUID:
    """A property owner in ``status``."""
    return _supplier(database_url, "property_owners", status, account)


def seat_labels(count: int) -> list[str]:
    """``1A, 1B, 1C, 1D, 2A, ...``: four seats a row."""
    return [f"{n // 4 + 1}{'ABCD'[n % 4]}" for n in range(count)]


def schedule(
    database_url: str,
    operator_id: uuid.UUID,
    seats: int = 40,
    departs_in: timedelta = timedelta(days=3),
    fare_minor: int = 125_000,
) -> uuid.UUID:
    """An active schedule of a new bus with ``seats`` free seats."""
    bus_id, schedule_id = uuid.uuid4(), uuid.uuid4()
    labels = seat_labels(seats)
    sql(
        database_url,
        "INSERT INTO buses (id, operator_id, registration, bus_type, amenities, seat_labels)"
        " VALUES (%s, %s, %s, 'seater', '{ac}', %s)",
        bus_id,
        operator_id,
        f"MH-{bus_id.hex[:8]}",
        labels,
    )
    departs_at = datetime.now(UTC) + departs_in
    sql(
        database_url,
        "INSERT INTO schedules (id, operator_id, bus_id, origin, destination, departs_at, arrives_at, fare_minor,"
        " currency, total_seats, available_seats) VALUES (%s, %s, %s, 'Mumbai', 'Goa', %s, %s, %s, %s, %s, %s)",
        schedule_id,
        operator_id,
        bus_id,
        departs_at,
        departs_at + timedelta(hours=10),
        fare_minor,
        CURRENCY,
        seats,
        seats,
    )
    sql(
        database_url,
        "INSERT INTO seats (schedule_id, seat_no, position) SELECT %s, label, n - 1"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS labels(label, n)",
        schedule_id,
        labels,
    )
    return schedule_id


def room_type(database_url: str, owner_id: uuid.UUID, *, active: bool = True) -> uuid.UUID:
    """A room type of a new hotel."""
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    sql(
        database_url,
        "INSERT INTO hotels (id, owner_id, name, city, address, stars, amenities, is_active)"
        " VALUES (%s, %s, 'Sea View', 'Goa', '1 Beach Road', 4, '{wifi}', %s)",
        hotel_id,
        owner_id,
        active,
    )
    sql(
        database_url,
        "INSERT INTO room_types (id, hotel_id, name, capacity, amenities) VALUES (%s, %s, 'Deluxe', 2, '{}')",
        room_type_id,
        hotel_id,
    )
    return room_type_id


def nights(database_url: str, room_type_id: uuid.UUID, first: date, count: int, rooms: int, rate_minor: int) -> None:
    """``rooms`` rooms at ``rate_minor`` on ``count`` nights from ``first``."""
    sql(
        database_url,
        "INSERT INTO room_nights (room_type_id, night, total, rate_minor, currency)"
        " SELECT %s, %s::date + n, %s, %s, %s FROM generate_series(0, %s - 1) AS n",
        room_type_id,
        first,
        rooms,
        rate_minor,
        CURRENCY,
        count,
    )


def _supplier(database_url: str, table: str, status: str, account: str | None) -> uuid.UUID:
    supplier_id = uuid.uuid4()
    sql(
        database_url,
        f"INSERT INTO {table} (id, account_id, name, contact_email, approval_status, submitted_at)"
        " VALUES (%s, %s, 'Konkan Travels', 'ops@konkan.example', %s, now())",
        supplier_id,
        account or f"account-{supplier_id.hex[:8]}",
        status,
    )
    return supplier_id
