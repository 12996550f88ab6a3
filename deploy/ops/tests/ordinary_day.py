"""An ordinary day on the platform, and the audit's verdict on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from tripline_ops.audit import AuditReport, audit_platform

from .world import RoomType, Schedule, Seats, Stay, World


@dataclass(frozen=True)
class OrdinaryDay:
    """One schedule, one room type, three customers and a booking in most statuses, all consistent."""

    schedule: Schedule
    room_type: RoomType
    first_night: date
    confirmed: uuid.UUID  # asha: seats 1A, 1B and a room for the first two nights
    completed: uuid.UUID  # ravi: seat 2A
    cancelled_after_payment: uuid.UUID  # asha: seat 2B, 750 of 1 500 refunded
    cancelled_before_payment: uuid.UUID  # meera: seat 3A
    expired: uuid.UUID  # ravi: a room for the second and third nights
    failed: uuid.UUID  # meera: seat 3B, debited and refunded in full
    reserved: uuid.UUID  # asha: seat 4A and a room for the third night, held
    paying: uuid.UUID  # ravi, payment_pending in flight, already debited: seat 4B and a room for the first night


def ordinary_day(world: World) -> OrdinaryDay:
    schedule = world.schedule()
    first = date.today() + timedelta(days=30)
    room_type = world.room_type(first)
    world.top_up("asha", 100_000)
    world.top_up("ravi", 50_000)
    world.top_up("meera", 10_000)
    world.credit("meera", 2_000)

    def nights(start: int, end: int) -> Stay:
        return Stay(room_type, first + timedelta(days=start), first + timedelta(days=end))

    return OrdinaryDay(
        schedule=schedule,
        room_type=room_type,
        first_night=first,
        confirmed=world.book("asha", "confirmed", seats=Seats(schedule, ["1A", "1B"]), stay=nights(0, 2)),
        completed=world.book("ravi", "completed", seats=Seats(schedule, ["2A"])),
        cancelled_after_payment=world.book("asha", "cancelled", seats=Seats(schedule, ["2B"]), refund=750),
        cancelled_before_payment=world.book("meera", "cancelled", seats=Seats(schedule, ["3A"])),
        expired=world.book("ravi", "expired", stay=nights(1, 3)),
        failed=world.book("meera", "failed", seats=Seats(schedule, ["3B"])),
        reserved=world.book("asha", "reserved", seats=Seats(schedule, ["4A"]), stay=nights(2, 3)),
        paying=world.book("ravi", "payment_pending", seats=Seats(schedule, ["4B"]), stay=nights(0, 1), paid=True),
    )


def audit(world: World) -> AuditReport:
    return audit_platform(world.urls)


def violations(world: World) -> dict[str, list[str]]:
    """``{invariant: ["subject: detail", ...]}`` for every invariant the audit found broken."""
    found: dict[str, list[str]] = {}
    for violation in audit(world).violations:
        found.setdefault(violation.invariant, []).append(f"{violation.subject}: {violation.detail}")
    return found
