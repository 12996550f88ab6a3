"""How settled each booking is, and so what the audit may demand of it.

A settled booking must be exactly right everywhere. The others are caught between two services, and the audit
tolerates what that step may leave for a while:

- in flight: a transitional booking (pending, payment_pending, confirming, cancelling) not yet past its
  ``deadline_at`` (bookings' own stuck rule, ``count_stuck``), or any booking that changed after the audit began
  reading (inventory and payments were read before it, so they may not show that change's cause yet);
- settling: a booking that ended as cancelled, expired or failed less than a step timeout ago, whose compensations
  (inventory's release, payments' refund) may still be on their way; one still missing after that is as late as a
  stuck step;
- stuck: a transitional booking past its deadline. It is reported once, as stuck; what it holds meanwhile is
  judged as for one in flight, since it is exactly what its unfinished step leaves.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bookings.domain.lifecycle import Status
from tripline_ops.audit.records import (
    SOLD,
    Booking,
    BookingsSnapshot,
    InventorySnapshot,
    PaymentsSnapshot,
)
from tripline_ops.audit.snapshot import PlatformSnapshot

# Ended with compensations sent in the same transaction: a release (cancelled, expired, failed) or a refund (failed,
# or a late debit of a booking that is over).
ENDED_WITH_COMPENSATIONS = frozenset({Status.CANCELLED, Status.EXPIRED, Status.FAILED})
# Unsettled, these may already have their items sold: confirming (inventory sold them; its reply is on its way),
# cancelling (sold until the release lands), failed (abandoned, or sold by a confirm that came too late; the
# release is on its way).
MAY_BE_SOLD_UNSETTLED = frozenset({Status.CONFIRMING, Status.CANCELLING, Status.FAILED})


class Standing(enum.Enum):
    """How far the audit may trust a booking's status to describe the other services."""

    SETTLED = "settled"
    IN_FLIGHT = "in flight"
    SETTLING = "settling"
    STUCK = "stuck"


@dataclass(frozen=True)
class AuditRules:
    """The deployment's timings the audit's tolerances follow (each service's defaults unless set)."""

    # Inventory keeps a lapsed hold confirmable this long (HOLD_GRACE_SECONDS) ...
    hold_grace: timedelta = timedelta(seconds=120)
    # ... and its sweeper looks for holds past their grace this often (HOLD_SWEEP_SECONDS).
    hold_sweep: timedelta = timedelta(seconds=5)
    # How long bookings waits for another service before a step counts as stuck (BOOKING_STEP_TIMEOUT_SECONDS).
    step_timeout: timedelta = timedelta(seconds=60)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuditRules:
        """The rules from the services' variables; ``ValueError`` naming a variable that is not a number of seconds."""
        defaults = cls()
        return cls(
            hold_grace=_seconds(env, "HOLD_GRACE_SECONDS", defaults.hold_grace),
            hold_sweep=_seconds(env, "HOLD_SWEEP_SECONDS", defaults.hold_sweep),
            step_timeout=_seconds(env, "BOOKING_STEP_TIMEOUT_SECONDS", defaults.step_timeout),
        )


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    value = env.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Evidence:
    """The three snapshots, the rules, and each booking's standing: everything a check looks at."""

    snapshot: PlatformSnapshot
    rules: AuditRules
    standings: dict[uuid.UUID, Standing]

    @classmethod
    def weigh(cls, snapshot: PlatformSnapshot, rules: AuditRules) -> Evidence:
        began = snapshot.inventory.read_at
        now = snapshot.bookings.read_at
        standings = {
            booking.id: standing_of(booking, now=now, audit_began=began, step_timeout=rules.step_timeout)
            for booking in snapshot.bookings.bookings.values()
        }
        return cls(snapshot, rules, standings)

    @property
    def inventory(self) -> InventorySnapshot:
        return self.snapshot.inventory

    @property
    def payments(self) -> PaymentsSnapshot:
        return self.snapshot.payments

    @property
    def bookings(self) -> BookingsSnapshot:
        return self.snapshot.bookings

    def booking(self, booking_id: uuid.UUID) -> Booking | None:
        return self.bookings.bookings.get(booking_id)

    def settled(self, booking: Booking) -> bool:
        return self.standings[booking.id] is Standing.SETTLED

    def must_be_sold(self, booking: Booking) -> bool:
        """Its items must be sold in inventory under its hold."""
        return self.settled(booking) and booking.status in SOLD

    def may_be_sold(self, booking: Booking) -> bool:
        """Its items may be sold in inventory."""
        standing = self.standings[booking.id]
        if standing is Standing.SETTLED:
            return booking.status in SOLD
        if standing is Standing.IN_FLIGHT and not booking.status.is_transitional:
            return True  # changed while the audit read: its status may be newer than inventory's snapshot
        return booking.status in SOLD or booking.status in MAY_BE_SOLD_UNSETTLED

    def owed_range(self, booking: Booking) -> tuple[int, int]:
        """What payments may have kept for it: exactly what it owes once settled, anything up to its total before."""
        if self.settled(booking):
            return booking.owes(), booking.owes()
        return 0, booking.total


def standing_of(booking: Booking, *, now: datetime, audit_began: datetime, step_timeout: timedelta) -> Standing:
    """Where ``booking`` stands at ``now`` (bookings' clock), for an audit that began reading at ``audit_began``."""
    if booking.status.is_transitional:
        if booking.deadline_at is not None and booking.deadline_at < now:
            return Standing.STUCK
        return Standing.IN_FLIGHT
    if booking.updated_at >= audit_began:
        return Standing.IN_FLIGHT
    if booking.status in ENDED_WITH_COMPENSATIONS and now - booking.updated_at < step_timeout:
        return Standing.SETTLING
    return Standing.SETTLED
