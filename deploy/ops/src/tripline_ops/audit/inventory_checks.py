"""Invariants between inventory and bookings: who has each seat and room night, sold or held.

Each check yields ``(subject, detail)`` findings; ``subject`` names the seat, night or booking, ``detail`` says
what was expected and what was found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tripline_ops.audit.records import Booking, Hold, Night, Seat, SeatRow
from tripline_ops.audit.report import Finding, booking_subject, describe
from tripline_ops.audit.standing import ENDED_WITH_COMPENSATIONS, Evidence

SOLD_SEAT, HELD_SEAT = "sold", "held"
LIVE_HOLD = "held"


def seat_subject(seat: Seat) -> str:
    return f"schedule {seat[0]} seat {seat[1]}"


def night_subject(night: Night) -> str:
    return f"room type {night[0]} night {night[1]}"


# Sold seats -----------------------------------------------------------------------------------------------------


def sold_seats(evidence: Evidence) -> Iterator[Finding]:
    """Each sold seat belongs to a sold booking that names it; each seat of a sold booking is sold under its hold."""
    taken = {row.seat: row for row in evidence.inventory.taken_seats}
    for row in evidence.inventory.taken_seats:
        if row.status == SOLD_SEAT:
            yield from _sold_to_whom(evidence, row)
    for booking in evidence.bookings.bookings.values():
        if evidence.must_be_sold(booking):
            for seat in sorted(booking.items.seats, key=lambda seat: (str(seat[0]), seat[1])):
                yield from _sold_to_it(booking, seat, taken.get(seat))


def _sold_to_whom(evidence: Evidence, row: SeatRow) -> Iterator[Finding]:
    booking = evidence.booking(row.hold_id)
    subject = seat_subject(row.seat)
    if booking is None:
        yield subject, f"sold under booking {row.hold_id}, which bookings does not know"
    elif row.seat not in booking.items.seats:
        yield subject, f"sold under {describe(booking)}, whose items do not name it"
    elif not evidence.may_be_sold(booking):
        yield subject, f"sold under {describe(booking)}; expected a confirmed or completed booking"


def _sold_to_it(booking: Booking, seat: Seat, row: SeatRow | None) -> Iterator[Finding]:
    if row is not None and row.status == SOLD_SEAT and row.hold_id == booking.id:
        return
    found = "free" if row is None else f"{row.status} under booking {row.hold_id}"
    yield seat_subject(seat), f"{describe(booking)} has it; expected sold under that booking, found {found}"


# Sold room nights -----------------------------------------------------------------------------------------------


def sold_room_nights(evidence: Evidence) -> Iterator[Finding]:
    """Each night's sold rooms are the rooms of the sold bookings covering it (in-flight ones may add theirs)."""
    at_least: Counter[Night] = Counter()
    at_most: Counter[Night] = Counter()
    for booking in evidence.bookings.bookings.values():
        rooms = booking.items.rooms_by_night()
        if evidence.must_be_sold(booking):
            at_least.update(rooms)
        if evidence.may_be_sold(booking):
            at_most.update(rooms)
    room_nights = evidence.inventory.room_nights
    for night in sorted(set(room_nights) | set(at_most), key=lambda night: (str(night[0]), night[1])):
        found = room_nights[night].sold if night in room_nights else None
        low, high = at_least[night], at_most[night]
        if found is None and low:
            yield night_subject(night), f"no such night in inventory; confirmed and completed bookings hold {low}"
        elif found is not None and not low <= found <= high:
            tolerance = f" (bookings in flight may add up to {high - low})" if high > low else ""
            yield night_subject(night), f"sold {found}; confirmed and completed bookings hold {low}{tolerance}"


# Held seats and rooms -------------------------------------------------------------------------------------------


def held_inventory(evidence: Evidence) -> Iterator[Finding]:
    """Held seats and rooms belong to a live hold of a known booking, and are freed once the hold lapses.

    Inventory frees a hold's items when bookings releases them (a booking cancelled, expired or failed) or, failing
    that, when its sweeper finds the hold past ``expires_at`` + ``HOLD_GRACE_SECONDS`` (every
    ``HOLD_SWEEP_SECONDS``). So whatever its booking's status, a hold may keep its items held until then and no
    longer: a booking that may no longer hold (cancelled, expired, failed; confirmed or completed, whose items
    must be sold, not held) is tolerated until then, as its release may still be on its way.
    """
    holds = evidence.inventory.holds
    for row in evidence.inventory.taken_seats:
        if row.status == HELD_SEAT:
            yield from _held_by_live_hold(row, holds.get(row.hold_id))
    held_rooms: Counter[Night] = Counter()
    for hold in holds.values():
        if hold.status == LIVE_HOLD:
            held_rooms.update(hold.items.rooms_by_night())
            yield from _hold_may_hold(evidence, hold)
    room_nights = evidence.inventory.room_nights
    for night in sorted(set(room_nights) | set(held_rooms), key=lambda night: (str(night[0]), night[1])):
        found = room_nights[night].held if night in room_nights else 0
        if found != held_rooms[night]:
            yield night_subject(night), f"held {found}; live holds account for {held_rooms[night]}"


def _held_by_live_hold(row: SeatRow, hold: Hold | None) -> Iterator[Finding]:
    if hold is None:
        yield seat_subject(row.seat), f"held under booking {row.hold_id}, which has no hold"
    elif hold.status != LIVE_HOLD:
        yield seat_subject(row.seat), f"held under booking {row.hold_id}, whose hold is {hold.status}"
    elif row.seat not in hold.items.seats:
        yield seat_subject(row.seat), f"held under booking {row.hold_id}, whose hold does not name it"


def _hold_may_hold(evidence: Evidence, hold: Hold) -> Iterator[Finding]:
    booking = evidence.booking(hold.booking_id)
    subject = booking_subject(hold.booking_id)
    if booking is None:
        yield subject, f"holds {hold.items.describe()}, but bookings does not know the booking"
        return
    if evidence.settled(booking) and booking.status in ENDED_WITH_COMPENSATIONS:
        # Ended long enough ago for its release to have come: inventory's sweeper would free it only later.
        yield subject, f"{booking.status.value} booking still holds {hold.items.describe()}; expected its release"
        return
    if hold.expires_at is None:
        return
    rules = evidence.rules
    lapsed_at = hold.expires_at + rules.hold_grace
    if evidence.inventory.read_at > lapsed_at + rules.hold_sweep:
        found = f"{booking.status.value} booking still holds {hold.items.describe()}"
        lapse = f"hold expired {hold.expires_at.isoformat()}, grace {rules.hold_grace.total_seconds():g} s"
        yield subject, f"{found}; expected it freed by {lapsed_at.isoformat()} ({lapse})"


def seat_counts(evidence: Evidence) -> Iterator[Finding]:
    """Each departure on sale counts exactly its free seats as available: a release applied twice would not."""
    for count in evidence.inventory.seat_counts:
        if count.counted != count.free:
            yield f"schedule {count.schedule_id}", f"counts {count.counted} seats available; {count.free} are free"
