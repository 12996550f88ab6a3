"""What customers and admins ask of bookings over HTTP: each request one short transaction on the booking's row.

A customer sees only their own bookings, and not those an admin deleted; anything else is "not found", so no one
learns that someone else's booking exists.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from bookings.adapters import booking_records as records
from bookings.adapters.booking_records import Filters
from bookings.domain.lifecycle import Event, Status
from bookings.service_layer import saga
from bookings.service_layer.saga import Cause, SagaRules
from tripline.messaging.outbox import OutboxUnitOfWork

UnitOfWorkFactory = Callable[[], OutboxUnitOfWork]
# Sessions for reads that need no transaction around them (``tripline.db.make_read_session_factory``): a booking
# changes only under its row lock, and each read is one statement (history's second only adds rows).
ReadSessions = Callable[[], Session]


class MovesWatch(Protocol):
    """Tells a waiting request when a booking may have moved (``adapters.booking_watch``)."""

    def watching(self, booking_id: uuid.UUID) -> AbstractContextManager[threading.Event]: ...

    def wait(self, moved: threading.Event, seconds: float) -> None: ...


class BookingNotFound(Exception):
    """No such booking, or not one the caller may see."""


class KeyUsedByAnotherBooking(Exception):
    """The booking this key created asked for something else (its cached response expired)."""


@dataclass(frozen=True)
class Viewer:
    """Who asks: a customer sees their own bookings, an admin every booking."""

    sub: str
    is_admin: bool


@dataclass(frozen=True)
class Page:
    """Bookings newest first; ``has_more`` when older ones follow."""

    items: list[RowMapping]
    has_more: bool


def place(
    unit_of_work: UnitOfWorkFactory,
    rules: SagaRules,
    *,
    booking_id: uuid.UUID,
    customer_id: str,
    items: list[dict[str, Any]],
    pay_by: str | None,
) -> RowMapping:
    """Open a booking under an id derived from the request's key: the same key never makes a second booking."""
    with unit_of_work() as uow:
        booking = saga.open_booking(
            uow, rules, booking_id=booking_id, customer_id=customer_id, items=items, pay_by=pay_by
        )
        if booking is None:
            booking = records.find(uow.session, booking_id)
            assert booking is not None
            if booking["customer_id"] != customer_id or [_asked(i) for i in booking["items"]] != items:
                raise KeyUsedByAnotherBooking()
        uow.commit()
    return booking


def _asked(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name != "price"}


def view(reads: ReadSessions, viewer: Viewer, booking_id: uuid.UUID) -> RowMapping:
    """The booking, if the viewer may see it."""
    with reads() as session:
        return _visible(records.find(session, booking_id), viewer)


def wait_until_settled(
    reads: ReadSessions, watch: MovesWatch, viewer: Viewer, booking_id: uuid.UUID, seconds: float
) -> RowMapping:
    """The booking as soon as it is not transitional, or as it stands after ``seconds``."""
    if seconds <= 0:
        return view(reads, viewer, booking_id)
    deadline = time.monotonic() + seconds
    with watch.watching(booking_id) as moved:
        while True:
            moved.clear()  # before reading: a move committed after this read sets it again
            booking = view(reads, viewer, booking_id)
            left = deadline - time.monotonic()
            if not Status(booking["status"]).is_transitional or left <= 0:
                return booking
            watch.wait(moved, left)


def history(reads: ReadSessions, viewer: Viewer, booking_id: uuid.UUID) -> list[RowMapping]:
    """Every status change of the booking, oldest first."""
    with reads() as session:
        _visible(records.find(session, booking_id), viewer)
        return records.transitions(session, booking_id)


def page(reads: ReadSessions, filters: Filters, before: tuple[Any, uuid.UUID] | None, limit: int) -> Page:
    """One page of bookings matching ``filters``."""
    with reads() as session:
        rows = records.page(session, filters, before, limit)
    return Page(items=rows[:limit], has_more=len(rows) > limit)


def pay(
    unit_of_work: UnitOfWorkFactory, rules: SagaRules, viewer: Viewer, booking_id: uuid.UUID, request_key: str
) -> RowMapping:
    """Pay a reserved booking from the wallet (``BookingExpired`` past ``expires_at``, ``InvalidTransition`` else).

    A request already applied under ``request_key`` (its answer lost before it was kept) gets the booking again.
    """
    cause = Cause("payment asked by the customer", request_key=request_key)
    return _act(
        unit_of_work,
        viewer,
        booking_id,
        lambda uow, booking, now: saga.start_payment(uow, booking, cause, rules, now),
        request_key,
    )


def cancel(
    unit_of_work: UnitOfWorkFactory,
    rules: SagaRules,
    viewer: Viewer,
    booking_id: uuid.UUID,
    reason: str,
    request_key: str,
) -> RowMapping:
    """Cancel the booking: its items are released, and a confirmed one is refunded by policy."""
    who = "an admin" if viewer.is_admin else "the customer"
    cause = Cause(f"cancelled by {who}: {reason}", request_key=request_key)
    return _act(
        unit_of_work,
        viewer,
        booking_id,
        lambda uow, booking, now: saga.cancel(uow, booking, cause, rules, now),
        request_key,
    )


def delete(unit_of_work: UnitOfWorkFactory, rules: SagaRules, admin: Viewer, booking_id: uuid.UUID) -> None:
    """Soft-delete a booking that is over (deleting it again changes nothing)."""

    def soft_delete(uow: OutboxUnitOfWork, booking: RowMapping, now: Any) -> RowMapping:
        if booking["deleted_at"] is not None:
            return booking
        return saga.move(uow, booking, Event.DELETE, Cause(f"deleted by admin {admin.sub}"), rules, now)

    _act(unit_of_work, admin, booking_id, soft_delete)


def retry(unit_of_work: UnitOfWorkFactory, rules: SagaRules, admin: Viewer, booking_id: uuid.UUID) -> RowMapping:
    """Send again the step a waiting booking needs (``NotWaiting`` if it waits for nothing)."""
    return _act(
        unit_of_work, admin, booking_id, lambda uow, booking, now: saga.resend_awaited_step(uow, booking, rules, now)
    )


def abandon(unit_of_work: UnitOfWorkFactory, rules: SagaRules, admin: Viewer, booking_id: uuid.UUID) -> RowMapping:
    """Fail a booking stuck in payment or sale, releasing its items and refunding its money."""
    cause = Cause(f"abandoned by admin {admin.sub}")
    return _act(
        unit_of_work, admin, booking_id, lambda uow, booking, now: saga.abandon(uow, booking, cause, rules, now)
    )


def _act(
    unit_of_work: UnitOfWorkFactory,
    viewer: Viewer,
    booking_id: uuid.UUID,
    action: Callable[[OutboxUnitOfWork, RowMapping, Any], RowMapping],
    request_key: str | None = None,
) -> RowMapping:
    with unit_of_work() as uow:
        locked = records.lock(uow.session, booking_id)
        if locked is None:
            raise BookingNotFound()
        booking, now = _visible(locked[0], viewer), locked[1]
        if request_key is not None and records.changed_by_request(uow.session, booking_id, request_key):
            return booking
        changed = action(uow, booking, now)
        uow.commit()
    return changed


def _visible(booking: RowMapping | None, viewer: Viewer) -> RowMapping:
    if booking is None:
        raise BookingNotFound()
    if not viewer.is_admin and (booking["customer_id"] != viewer.sub or booking["deleted_at"] is not None):
        raise BookingNotFound()
    return booking
