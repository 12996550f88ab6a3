"""The audit's report: what it looked at, each invariant it checked, and every violation, named."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bookings.domain.lifecycle import Status
from tripline_ops.audit.records import Booking
from tripline_ops.audit.standing import Evidence, Standing

# What a check reports: the subject (a booking, a seat, a night, a customer), then expected against found.
Finding = tuple[str, str]

# Enough to show what is wrong without flooding the terminal when everything is; the report keeps them all.
MAX_LINES_PER_INVARIANT = 50


def booking_subject(booking_id: uuid.UUID) -> str:
    return f"booking {booking_id}"


def describe(booking: Booking) -> str:
    return f"booking {booking.id} ({booking.status.value})"


@dataclass(frozen=True)
class Invariant:
    """A rule that holds across the services, and the check that finds what breaks it."""

    name: str
    rule: str
    check: Callable[[Evidence], Iterable[Finding]]


@dataclass(frozen=True)
class Violation:
    """One thing breaking one invariant: ``subject`` names it, ``detail`` says what was expected and found."""

    invariant: str
    subject: str
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """What the audit read, the invariants it checked, and every violation found."""

    summary: list[str]
    invariants: tuple[Invariant, ...]
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        """The report as printed: the summary, one line per invariant with its violations under it, the verdict."""
        lines = list(self.summary)
        for invariant in self.invariants:
            found = [v for v in self.violations if v.invariant == invariant.name]
            lines.append(f"{'FAIL' if found else 'ok  '} {invariant.name}: {invariant.rule}")
            lines.extend(f"       {v.subject}: {v.detail}" for v in found[:MAX_LINES_PER_INVARIANT])
            if len(found) > MAX_LINES_PER_INVARIANT:
                lines.append(f"       ... and {len(found) - MAX_LINES_PER_INVARIANT} more")
        if self.passed:
            lines.append("audit passed")
        else:
            broken = len({v.invariant for v in self.violations})
            lines.append(f"audit FAILED: {len(self.violations)} violation(s) of {broken} invariant(s)")
        return lines


def summarize(evidence: Evidence) -> list[str]:
    """What the audit looked at: bookings by status, seats and room nights sold, customers, debits and refunds."""
    bookings = evidence.bookings.bookings.values()
    by_status = Counter(booking.status for booking in bookings)
    statuses = ", ".join(f"{status.value} {by_status[status]}" for status in Status if by_status[status])
    standings = Counter(evidence.standings.values())
    sold_seats = [row for row in evidence.inventory.taken_seats if row.status == "sold"]
    sold_nights = [night for night in evidence.inventory.room_nights.values() if night.sold]
    transactions = evidence.payments.transactions
    debits = [t.amount for t in transactions if t.kind == "debit"]
    refunds = [t.amount for t in transactions if t.kind == "refund"]
    customers = {booking.customer_id for booking in bookings} | {w.customer_id for w in evidence.payments.wallets}
    return [
        f"audit of inventory, payments and bookings, read at {evidence.bookings.read_at.isoformat()}",
        f"bookings: {len(bookings)}" + (f" ({statuses})" if statuses else ""),
        f"  tolerated while a step is under way: {standings[Standing.IN_FLIGHT]} in flight,"
        f" {standings[Standing.SETTLING]} settling",
        f"seats sold: {len(sold_seats)} on {len({row.seat[0] for row in sold_seats})} schedule(s)",
        f"room nights sold: {sum(night.sold for night in sold_nights)} rooms over {len(sold_nights)} night(s)"
        f" of {len({night.night[0] for night in sold_nights})} room type(s)",
        f"customers: {len(customers)}",
        f"debits: {len(debits)} for {sum(debits)}; refunds: {len(refunds)} for {sum(refunds)} (minor units)",
    ]
