"""Inventory's message payloads: registered by type and version, strict about what they accept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from tripline.contracts.inventory import HoldReserved, ReserveInventory
from tripline.messaging.contracts import Contract

SCHEDULE = str(uuid.uuid4())


def reserve(*items: dict[str, Any]) -> dict[str, Any]:
    return {"booking_id": str(uuid.uuid4()), "hold_seconds": 600, "items": list(items)}


def test_commands_and_events_are_found_by_type_and_version() -> None:
    assert Contract.lookup("inventory.reserve", 1) is ReserveInventory
    assert Contract.lookup("inventory.hold_reserved", 1) is HoldReserved
    assert HoldReserved.SUBJECT == "inventory.evt.hold.reserved"


def test_items_are_told_apart_by_their_type() -> None:
    command = ReserveInventory.model_validate(
        reserve(
            {"type": "bus_seats", "schedule_id": SCHEDULE, "seats": ["1A"]},
            {
                "type": "hotel_rooms",
                "room_type_id": SCHEDULE,
                "check_in": "2026-12-01",
                "check_out": "2026-12-02",
                "rooms": 1,
            },
        )
    )

    assert [type(item).__name__ for item in command.items] == ["BusSeatsRequest", "HotelRoomsRequest"]


@pytest.mark.parametrize(
    "item",
    [
        {"type": "bus_seats", "schedule_id": SCHEDULE, "seats": ["1A", "1A"]},
        {"type": "bus_seats", "schedule_id": SCHEDULE, "seats": []},
        {"type": "bus_seats", "schedule_id": SCHEDULE, "seats": ["1A"], "fare": 5},
        {"type": "boat_cabins", "schedule_id": SCHEDULE, "seats": ["1A"]},
    ],
    ids=["seat-twice", "no-seat", "unknown-field", "unknown-type"],
)
def test_a_malformed_reserve_is_refused_rather_than_guessed(item: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ReserveInventory.model_validate(reserve(item))
