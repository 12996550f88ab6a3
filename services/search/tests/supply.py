"""Inventory's supply events, built with sensible defaults, and applied to search's read model as its worker does.

Tests play inventory: each event goes through the inbox as a delivery of its own, so duplicates and reordering
are exercised exactly as the consumer would meet them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import text

from search.adapters.tables import READ_MODEL, plumbing
from search.bootstrap import PROJECTION, SUPPLY_EVENTS
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
from tripline.db import make_engine, make_session_factory
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner
from tripline.messaging.outbox import OutboxUnitOfWork

CURRENCY = "INR"


def money(amount_minor: int) -> Money:
    return Money(amount_minor=amount_minor, currency=CURRENCY)


def soon(days: int = 1, hour: int = 8) -> datetime:
    """A departure ``days`` ahead at ``hour`` UTC."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour)


def operator(operator_id: uuid.UUID, status: str = "approved", version: int = 1, name: str = "Konkan Travels") -> Any:
    return OperatorStatusChanged(operator_id=operator_id, name=name, approval_status=status, version=version)


def owner(owner_id: uuid.UUID, status: str = "approved", version: int = 1, name: str = "Coastal Stays") -> Any:
    return OwnerStatusChanged(owner_id=owner_id, name=name, approval_status=status, version=version)


def schedule(schedule_id: uuid.UUID, operator_id: uuid.UUID, **changes: Any) -> ScheduleUpserted:
    departs_at = changes.pop("departs_at", soon())
    fields: dict[str, Any] = {
        "schedule_id": schedule_id,
        "operator_id": operator_id,
        "bus_id": uuid.uuid4(),
        "bus_type": "sleeper",
        "amenities": ["ac", "wifi"],
        "origin": "Mumbai",
        "destination": "Goa",
        "departs_at": departs_at,
        "arrives_at": departs_at + timedelta(minutes=changes.pop("duration_minutes", 600)),
        "fare": money(changes.pop("fare_minor", 120_000)),
        "status": "active",
        "total_seats": 40,
        "available_seats": 40,
        "version": 1,
        "seats_version": 1,
    }
    return ScheduleUpserted(**(fields | changes))


def seats(schedule_id: uuid.UUID, available: int, version: int) -> SeatsChanged:
    return SeatsChanged(schedule_id=schedule_id, available_seats=available, version=version)


def hotel(hotel_id: uuid.UUID, owner_id: uuid.UUID, rooms: Iterable[RoomTypeView] = (), **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "hotel_id": hotel_id,
        "owner_id": owner_id,
        "name": "Sea Breeze",
        "city": "Goa",
        "address": "1 Beach Road",
        "stars": 4,
        "amenities": ["wifi", "pool"],
        "is_active": True,
        "room_types": list(rooms),
        "version": 1,
    }
    return HotelUpserted(**(fields | changes))


def room(room_type_id: uuid.UUID, name: str = "Deluxe", capacity: int = 2) -> RoomTypeView:
    return RoomTypeView(room_type_id=room_type_id, name=name, capacity=capacity, amenities=["ac"])


def nights(
    room_type_id: uuid.UUID,
    hotel_id: uuid.UUID,
    first: date,
    count: int,
    available: int = 5,
    rate_minor: int = 500_000,
    version: int = 1,
) -> RoomNightsChanged:
    return RoomNightsChanged(
        room_type_id=room_type_id,
        hotel_id=hotel_id,
        nights=[
            RoomNight(
                night=first + timedelta(days=n),
                total=max(available, 1),
                available=available,
                rate=money(rate_minor),
                version=version,
            )
            for n in range(count)
        ],
    )


class ReadModel:
    """Search's read model on a test database, fed one delivery at a time through the inbox."""

    def __init__(self, database_url: str):
        self.engine = make_engine(database_url, application_name="search-tests")
        session_factory = make_session_factory(self.engine)
        self.unit_of_work: Callable[[], OutboxUnitOfWork] = partial(
            OutboxUnitOfWork, session_factory, plumbing.outbox, "inventory"
        )
        self._runner = InboxRunner(SUPPLY_EVENTS.durable, plumbing.inbox, self.unit_of_work)

    def apply(self, *events: Contract) -> list[Envelope]:
        """Deliver each event as a new message; returns the envelopes, to deliver again."""
        envelopes = [Envelope.wrap(event, source="inventory") for event in events]
        self.deliver(*envelopes)
        return envelopes

    def deliver(self, *envelopes: Envelope) -> None:
        """Deliver these very envelopes (a redelivery when one was delivered before)."""
        for envelope in envelopes:
            payload = envelope.open()
            self._runner.handle(envelope, payload, PROJECTION[type(payload)])

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the read model, table by table, in key order: two equal read models compare equal."""
        with self.engine.connect() as connection:
            return {
                table.name: [tuple(row) for row in connection.execute(table.select().order_by(*table.primary_key))]
                for table in READ_MODEL
            }

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def close(self) -> None:
        self.engine.dispose()
