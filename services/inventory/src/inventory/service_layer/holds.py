"""Handlers of ``inventory.cmd.reserve|confirm|release`` and the hold sweeper.

Each runs in one transaction opened by the inbox runner (or the sweeper), so the hold, the seats and nights it
changes, and the replies and search events it queues commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import RowMapping

from inventory.adapters import for_sale, hold_records, stock
from inventory.domain.holds import (
    HoldStatus,
    Rejection,
    ensure_guests_fit,
    ensure_schedule_sellable,
    ensure_stay_sellable,
    is_confirmable,
    nights_of,
    seats_price,
    stay_ends_at,
    stay_price,
    stay_starts_at,
)
from inventory.service_layer.announcements import room_nights_changed, seats_changed
from tripline.contracts.inventory import (
    BusSeatsRequest,
    ConfirmHold,
    HeldBusSeats,
    HeldHotelRooms,
    HeldItem,
    HoldConfirmed,
    HoldConfirmRejected,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    HoldReserved,
    HotelRoomsRequest,
    NightRate,
    ReleaseHold,
    ReserveInventory,
)
from tripline.contracts.values import Money
from tripline.db import database_now
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork


def reserve_inventory(command: ReserveInventory, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Hold every item of the booking or none, and answer ``hold.reserved`` or ``hold.rejected``."""
    booking_id = command.booking_id
    now = hold_records.claim(uow.session, booking_id, HoldStatus.HELD)
    if now is None:
        # Asked again (a retry, or a reserve after a release): the first decision stands.
        _reply(uow, booking_id, _standing_decision(uow, booking_id), envelope)
        return
    attempt = uow.session.begin_nested()
    try:
        items = _take_items(uow, command, now)
    except Rejection as rejection:
        attempt.rollback()
        _reply(uow, booking_id, _rejected(uow, booking_id, rejection), envelope)
        return
    attempt.commit()
    reserved = _reserved(booking_id, items, now + timedelta(seconds=command.hold_seconds))
    hold_records.record_held(uow.session, booking_id, items, reserved.expires_at)
    _reply(uow, booking_id, reserved, envelope)


def confirm_hold(command: ConfirmHold, envelope: Envelope, uow: OutboxUnitOfWork, grace: timedelta) -> None:
    """Sell a live or in-grace hold (``hold.confirmed``), else ``hold.confirm_rejected``."""
    booking_id = command.booking_id
    locked = hold_records.lock(uow.session, booking_id)
    if locked is None:
        reply: Contract = HoldConfirmRejected(
            booking_id=booking_id, reason="hold_unknown", detail="No hold was ever placed."
        )
        _reply(uow, booking_id, reply, envelope)
        return
    hold, now = locked
    if hold["status"] == HoldStatus.CONFIRMED:
        reply = HoldConfirmed(booking_id=booking_id)
    elif hold["status"] == HoldStatus.HELD and is_confirmable(hold["expires_at"], grace, now):
        _sell(uow, booking_id, now)
        reply = HoldConfirmed(booking_id=booking_id)
    elif hold["status"] == HoldStatus.HELD:
        _expire(uow, booking_id, now)
        reply = _confirm_refused(booking_id, HoldStatus.EXPIRED)
    else:
        reply = _confirm_refused(booking_id, HoldStatus(hold["status"]))
    _reply(uow, booking_id, reply, envelope)


def release_hold(command: ReleaseHold, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Free the booking's seats and rooms, held or sold; a release with no hold leaves a tombstone."""
    booking_id = command.booking_id
    was_held = False
    now = hold_records.claim(uow.session, booking_id, HoldStatus.RELEASED, reason=command.reason)
    if now is not None:
        # No hold yet: this row is the tombstone, so a reserve arriving after its own release is rejected.
        hold_records.record_outcome(uow.session, booking_id, HoldStatus.RELEASED, released_at=now)
    else:
        locked = hold_records.lock(uow.session, booking_id)
        assert locked is not None  # claim found it, and holds are never deleted
        hold, now = locked
        was_held = HoldStatus(hold["status"]).owns_inventory
        if was_held:
            _give_back(uow, booking_id, was_sold=hold["status"] == HoldStatus.CONFIRMED)
            hold_records.record_outcome(
                uow.session, booking_id, HoldStatus.RELEASED, reason=command.reason, released_at=now
            )
    _reply(uow, booking_id, HoldReleased(booking_id=booking_id, reason=command.reason, was_held=was_held), envelope)


def expire_one_lapsed_hold(uow: OutboxUnitOfWork, grace: timedelta) -> bool:
    """Release the oldest hold past ``expires_at + grace`` (``hold.expired``); False when there is none."""
    booking_id = hold_records.next_lapsed(uow.session, grace.total_seconds())
    if booking_id is None:
        return False
    _expire(uow, booking_id, database_now(uow.session))
    return True


# Reserving -----------------------------------------------------------------------------------------------------


def _take_items(uow: OutboxUnitOfWork, command: ReserveInventory, now: datetime) -> list[HeldItem]:
    """Hold each item in the fixed lock order (seats by schedule, then stays by room type); raise on the first miss."""
    indexed = list(enumerate(command.items))
    seat_requests = sorted(
        ((n, item) for n, item in indexed if isinstance(item, BusSeatsRequest)),
        key=lambda pair: str(pair[1].schedule_id),
    )
    stay_requests = sorted(
        ((n, item) for n, item in indexed if isinstance(item, HotelRoomsRequest)),
        key=lambda pair: (str(pair[1].room_type_id), pair[1].check_in),
    )
    held: dict[int, HeldItem] = {}
    for n, seat_request in seat_requests:
        held[n] = _take_seats(uow, command.booking_id, seat_request, n, now)
    for n, stay_request in stay_requests:
        held[n] = _take_stay(uow, stay_request, n, now)
    _count_seats(uow, Counter({schedule_id: -count for schedule_id, count in _seats_per_schedule(held).items()}))
    return [held[n] for n in range(len(command.items))]


def _seats_per_schedule(held: dict[int, HeldItem]) -> Counter[uuid.UUID]:
    counts: Counter[uuid.UUID] = Counter()
    for item in held.values():
        if isinstance(item, HeldBusSeats):
            counts[item.schedule_id] += len(item.seats)
    return counts


def _take_seats(
    uow: OutboxUnitOfWork, booking_id: uuid.UUID, request: BusSeatsRequest, n: int, now: datetime
) -> HeldBusSeats:
    found = for_sale.schedule_for_sale(uow.session, request.schedule_id)
    ensure_schedule_sellable(found[0] if found else None, n, now)
    assert found is not None
    schedule = found[1]
    taken = stock.hold_seats(uow.session, booking_id, request.schedule_id, request.seats)
    if len(taken) != len(request.seats):
        missing = sorted(set(request.seats) - set(taken)) or sorted(request.seats)
        raise Rejection("seats_unavailable", f"Seats not available: {', '.join(missing)}.", n)
    currency = schedule["currency"]
    return HeldBusSeats(
        schedule_id=request.schedule_id,
        seats=list(request.seats),
        fare=Money(amount_minor=schedule["fare_minor"], currency=currency),
        price=Money(amount_minor=seats_price(schedule["fare_minor"], len(request.seats)), currency=currency),
        starts_at=schedule["departs_at"],
        ends_at=schedule["arrives_at"],
    )


def _take_stay(uow: OutboxUnitOfWork, request: HotelRoomsRequest, n: int, now: datetime) -> HeldHotelRooms:
    room_type = for_sale.room_type_for_sale(uow.session, request.room_type_id)
    ensure_stay_sellable(room_type, request.check_in, request.check_out, n, now.date())
    assert room_type is not None
    ensure_guests_fit(room_type, request.rooms, request.guests, n)
    nights = stock.shift_nights(
        uow.session, request.room_type_id, request.check_in, request.check_out, held=request.rooms, sold=0
    )
    if len(nights) != len(nights_of(request.check_in, request.check_out)):
        raise Rejection("rooms_unavailable", f"Fewer than {request.rooms} rooms left on some night of the stay.", n)
    hotel_id = uuid.UUID(str(room_type.hotel_id))
    uow.outbox.add(room_nights_changed(request.room_type_id, hotel_id, nights))
    currency = nights[0]["currency"]
    return HeldHotelRooms(
        room_type_id=request.room_type_id,
        hotel_id=hotel_id,
        check_in=request.check_in,
        check_out=request.check_out,
        rooms=request.rooms,
        nights=[NightRate(night=night["night"], rate=_money(night, "rate_minor")) for night in nights],
        price=Money(
            amount_minor=stay_price((night["rate_minor"] for night in nights), request.rooms), currency=currency
        ),
        starts_at=stay_starts_at(request.check_in),
        ends_at=stay_ends_at(request.check_out),
    )


def _count_seats(uow: OutboxUnitOfWork, changes: Counter[uuid.UUID]) -> None:
    """Move each schedule's free-seat count, in schedule order (the last lock a hold takes), and tell search."""
    for schedule_id in sorted(changes, key=str):
        counted = stock.count_seats(uow.session, schedule_id, changes[schedule_id])
        if counted is None:  # cancelled or departed while its seats were being held
            raise Rejection("not_sellable", "The schedule stopped selling while its seats were being held.")
        uow.outbox.add(seats_changed(schedule_id, *counted))


# Selling and giving back ---------------------------------------------------------------------------------------


def _sell(uow: OutboxUnitOfWork, booking_id: uuid.UUID, now: datetime) -> None:
    stock.sell_seats(uow.session, booking_id)
    for item in _stays(uow, booking_id):
        # Held rooms become sold: availability is unchanged, but the nights' versions move on, and search is told
        # so that its read model holds the versions a snapshot would announce (a rebuild then changes nothing).
        nights = stock.shift_nights(uow.session, *_stay(item), held=-item.rooms, sold=item.rooms)
        uow.outbox.add(room_nights_changed(item.room_type_id, item.hotel_id, nights))
    hold_records.record_outcome(uow.session, booking_id, HoldStatus.CONFIRMED, confirmed_at=now)


def _expire(uow: OutboxUnitOfWork, booking_id: uuid.UUID, now: datetime) -> None:
    _give_back(uow, booking_id, was_sold=False)
    hold_records.record_outcome(uow.session, booking_id, HoldStatus.EXPIRED, reason="hold_lapsed", released_at=now)
    uow.outbox.add(HoldExpired(booking_id=booking_id, expired_at=now), correlation_id=str(booking_id))


def _give_back(uow: OutboxUnitOfWork, booking_id: uuid.UUID, *, was_sold: bool) -> None:
    """Free every seat and room of the hold, in the same lock order as reserving (seats, nights, counters)."""
    freed = stock.free_seats(uow.session, booking_id)
    for item in _stays(uow, booking_id):
        given_back = -item.rooms
        held, sold = (0, given_back) if was_sold else (given_back, 0)
        nights = stock.shift_nights(uow.session, *_stay(item), held=held, sold=sold)
        uow.outbox.add(room_nights_changed(item.room_type_id, item.hotel_id, nights))
    _count_seats(uow, freed)


def _stays(uow: OutboxUnitOfWork, booking_id: uuid.UUID) -> list[HeldHotelRooms]:
    items = hold_records.items_of(uow.session, booking_id)
    return sorted(
        (item for item in items if isinstance(item, HeldHotelRooms)),
        key=lambda item: (str(item.room_type_id), item.check_in),
    )


def _stay(item: HeldHotelRooms) -> tuple[uuid.UUID, date, date]:
    return item.room_type_id, item.check_in, item.check_out


# Replies -------------------------------------------------------------------------------------------------------


def _reply(uow: OutboxUnitOfWork, booking_id: uuid.UUID, reply: Contract, envelope: Envelope) -> None:
    uow.outbox.add(reply, correlation_id=str(booking_id), causation=envelope)


def _reserved(booking_id: uuid.UUID, items: list[HeldItem], expires_at: datetime) -> HoldReserved:
    currency = items[0].price.currency
    total = Money(amount_minor=sum(item.price.amount_minor for item in items), currency=currency)
    return HoldReserved(booking_id=booking_id, items=items, total=total, expires_at=expires_at)


def _rejected(uow: OutboxUnitOfWork, booking_id: uuid.UUID, rejection: Rejection) -> HoldRejected:
    hold_records.record_outcome(
        uow.session,
        booking_id,
        HoldStatus.REJECTED,
        reason=rejection.reason,
        detail=rejection.detail,
        item_index=rejection.item_index,
    )
    return HoldRejected(
        booking_id=booking_id, reason=rejection.reason, detail=rejection.detail, item_index=rejection.item_index
    )


def _standing_decision(uow: OutboxUnitOfWork, booking_id: uuid.UUID) -> Contract:
    locked = hold_records.lock(uow.session, booking_id)
    assert locked is not None
    hold, _ = locked
    status = HoldStatus(hold["status"])
    if status.owns_inventory:
        return _reserved(booking_id, hold_records.items_of(uow.session, booking_id), hold["expires_at"])
    if status is HoldStatus.REJECTED:
        return HoldRejected(
            booking_id=booking_id, reason=hold["reason"], detail=hold["detail"], item_index=hold["item_index"]
        )
    return HoldRejected(
        booking_id=booking_id, reason="hold_released", detail=f"The booking's hold has already {_ended(status)}."
    )


def _confirm_refused(booking_id: uuid.UUID, status: HoldStatus) -> HoldConfirmRejected:
    if status is HoldStatus.EXPIRED:
        return HoldConfirmRejected(
            booking_id=booking_id, reason="hold_lapsed", detail="The hold lapsed past its grace."
        )
    if status is HoldStatus.REJECTED:
        return HoldConfirmRejected(booking_id=booking_id, reason="hold_rejected", detail="The reserve was rejected.")
    return HoldConfirmRejected(booking_id=booking_id, reason="hold_released", detail="The hold was released.")


def _ended(status: HoldStatus) -> str:
    return "expired" if status is HoldStatus.EXPIRED else "been released"


def _money(row: RowMapping, column: str) -> Money:
    return Money(amount_minor=row[column], currency=row["currency"])


def release_lapsed_holds(unit_of_work: Callable[[], OutboxUnitOfWork], grace: timedelta) -> int:
    """Expire lapsed holds until none is left, one per transaction; returns how many.

    One hold per transaction keeps the lock order every hold uses (seats, nights, counters): expiring two holds
    in one transaction would take one's counter before the other's nights, and deadlock against a reserve.
    """
    released = 0
    while True:
        with unit_of_work() as uow:
            if not expire_one_lapsed_hold(uow, grace):
                return released
            uow.commit()
        released += 1
