"""Items as bookings and inventory store them: a booking's request with its price, a hold's priced items."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tripline.contracts.inventory import HeldBusSeats, HeldHotelRooms, NightRate
from tripline.contracts.values import Money

if TYPE_CHECKING:
    from .world import Seats, Stay

CURRENCY = "INR"


def booking_items(seats: Seats | None, stay: Stay | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if seats is not None:
        items.append(
            {
                "type": "bus_seats",
                "schedule_id": str(seats.schedule.id),
                "seats": list(seats.labels),
                "passengers": [{"name": f"Traveller {label}", "age": 30} for label in seats.labels],
                "price": {"amount_minor": seats.price, "currency": CURRENCY},
            }
        )
    if stay is not None:
        items.append(
            {
                "type": "hotel_rooms",
                "room_type_id": str(stay.room_type.id),
                "check_in": stay.check_in.isoformat(),
                "check_out": stay.check_out.isoformat(),
                "rooms": stay.rooms,
                "guests": stay.rooms,
                "price": {"amount_minor": stay.price, "currency": CURRENCY},
            }
        )
    return items


def held_items(seats: Seats | None, stay: Stay | None) -> list[dict[str, Any]]:
    """The hold's items exactly as inventory stores them (its own contract's JSON)."""
    items: list[dict[str, Any]] = []
    if seats is not None:
        held = HeldBusSeats(
            schedule_id=seats.schedule.id,
            seats=list(seats.labels),
            fare=Money(amount_minor=seats.schedule.fare, currency=CURRENCY),
            price=Money(amount_minor=seats.price, currency=CURRENCY),
            starts_at=seats.schedule.departs_at,
            ends_at=seats.schedule.arrives_at,
        )
        items.append(held.model_dump(mode="json"))
    if stay is not None:
        rate = Money(amount_minor=stay.room_type.rate, currency=CURRENCY)
        rooms = HeldHotelRooms(
            room_type_id=stay.room_type.id,
            hotel_id=stay.room_type.hotel_id,
            check_in=stay.check_in,
            check_out=stay.check_out,
            rooms=stay.rooms,
            nights=[NightRate(night=night, rate=rate) for night in stay.nights()],
            price=Money(amount_minor=stay.price, currency=CURRENCY),
            starts_at=datetime.combine(stay.check_in, datetime.min.time(), UTC),
            ends_at=datetime.combine(stay.check_out, datetime.min.time(), UTC),
        )
        items.append(rooms.model_dump(mode="json"))
    return items
