"""Bookings' events: one per status change of a booking, on ``bookings.evt.booking.<status>``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from tripline.contracts.values import Money
from tripline.messaging.contracts import Contract

BookingStatus = Literal[
    "pending",
    "reserved",
    "payment_pending",
    "confirming",
    "confirmed",
    "completed",
    "cancelling",
    "cancelled",
    "expired",
    "failed",
]


class BookingStatusChanged(Contract):
    """A booking moved from ``from_status`` to ``status``; subscribers filter by the subject's last token."""

    TYPE: ClassVar[str] = "bookings.booking_status_changed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "bookings.evt.booking.*"

    booking_id: uuid.UUID
    customer_id: str
    from_status: BookingStatus | None
    status: BookingStatus
    reason: str
    at: datetime
    total: Money | None
    refund: Money | None
    failure_code: str | None
    # The booking's change count: a subscriber keeps the highest it has seen, whatever order events arrive in.
    version: int

    def subject(self) -> str:
        """``bookings.evt.booking.<status>``."""
        return f"bookings.evt.booking.{self.status}"
