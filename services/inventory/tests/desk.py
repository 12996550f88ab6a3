"""Sending hold commands to inventory's handlers the way its consumer does: through the inbox, one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine

from inventory.adapters.tables import plumbing
from inventory.service_layer.holds import confirm_hold, release_hold, release_lapsed_holds, reserve_inventory
from tripline.contracts.inventory import ConfirmHold, ReleaseHold, ReserveInventory
from tripline.db import make_engine, make_session_factory
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.outbox import OutboxUnitOfWork

from .support import sql

GRACE = timedelta(seconds=120)
TOMORROW = datetime.now(UTC).date() + timedelta(days=1)
Reply = tuple[str, dict[str, Any]]  # (event subject without "inventory.evt.hold.", payload)


class HoldDesk:
    """Inventory's hold handlers on a real database, as the worker runs them."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url, application_name="hold-tests", pool_size=20)
        self.unit_of_work = partial(OutboxUnitOfWork, make_session_factory(self.engine), plumbing.outbox, "inventory")
        self.runner = InboxRunner("inventory-commands", plumbing.inbox, self.unit_of_work)

    def deliver(self, envelope: Envelope) -> Outcome:
        """Handle one delivery of ``envelope``, duplicate or not."""
        payload = Contract.lookup(envelope.type, envelope.version).model_validate(envelope.payload)
        return self.runner.handle(envelope, payload, self._handler(payload))

    def send(self, payload: Contract) -> Reply:
        """Deliver a new command and return inventory's reply to it."""
        envelope = Envelope.wrap(payload, source="bookings", correlation_id=str(payload.booking_id))  # type: ignore[attr-defined]
        self.deliver(envelope)
        return self.reply_to(envelope)

    def reserve(self, booking_id: uuid.UUID, *items: dict[str, Any], hold_seconds: int = 600) -> Reply:
        """Reserve ``items`` for a booking."""
        return self.send(
            ReserveInventory.model_validate({"booking_id": booking_id, "items": items, "hold_seconds": hold_seconds})
        )

    def confirm(self, booking_id: uuid.UUID) -> Reply:
        """Confirm a booking's hold."""
        return self.send(ConfirmHold(booking_id=booking_id))

    def release(self, booking_id: uuid.UUID, reason: str = "cancelled") -> Reply:
        """Release a booking's hold."""
        return self.send(ReleaseHold(booking_id=booking_id, reason=reason))

    def sweep(self) -> int:
        """Run the sweeper once."""
        return release_lapsed_holds(self.unit_of_work, GRACE)

    def reply_to(self, envelope: Envelope) -> Reply:
        """The one hold event caused by ``envelope``."""
        rows = sql(
            self.database_url,
            "SELECT subject, envelope FROM outbox"
            " WHERE envelope->>'causation_id' = %s AND subject LIKE 'inventory.evt.hold.%%'",
            str(envelope.id),
        )
        assert len(rows) == 1, f"expected one reply, found {len(rows)}"
        return rows[0][0].removeprefix("inventory.evt.hold."), rows[0][1]["payload"]

    def lapse(self, booking_id: uuid.UUID, by: timedelta) -> None:
        """Move a hold's deadline ``by`` into the past, as if that much time went by."""
        sql(self.database_url, "UPDATE holds SET expires_at = now() - %s WHERE booking_id = %s", by, booking_id)

    def close(self) -> None:
        """Give the connections back."""
        self.engine.dispose()

    @staticmethod
    def _handler(payload: Contract) -> Callable[..., None]:
        if isinstance(payload, ReserveInventory):
            return reserve_inventory
        if isinstance(payload, ConfirmHold):
            return partial(confirm_hold, grace=GRACE)
        assert isinstance(payload, ReleaseHold)
        return release_hold


def seats(schedule_id: uuid.UUID, *labels: str) -> dict[str, Any]:
    """A bus-seats item."""
    return {"type": "bus_seats", "schedule_id": str(schedule_id), "seats": list(labels)}


def rooms(room_type_id: uuid.UUID, check_in: Any, check_out: Any, count: int = 1) -> dict[str, Any]:
    """A hotel-rooms item."""
    return {
        "type": "hotel_rooms",
        "room_type_id": str(room_type_id),
        "check_in": check_in.isoformat(),
        "check_out": check_out.isoformat(),
        "rooms": count,
    }


def seat_states(database_url: str, schedule_id: uuid.UUID) -> dict[str, tuple[str, uuid.UUID | None]]:
    rows = sql(database_url, "SELECT seat_no, status, hold_id FROM seats WHERE schedule_id = %s", schedule_id)
    return {seat: (status, hold) for seat, status, hold in rows}


def available_seats(database_url: str, schedule_id: uuid.UUID) -> int:
    return sql(database_url, "SELECT available_seats FROM schedules WHERE id = %s", schedule_id)[0][0]


def night_counts(database_url: str, room_type_id: uuid.UUID) -> dict[date, tuple[int, int, int]]:
    rows = sql(database_url, "SELECT night, total, held, sold FROM room_nights WHERE room_type_id = %s", room_type_id)
    return {night: (total, held, sold) for night, total, held, sold in rows}
