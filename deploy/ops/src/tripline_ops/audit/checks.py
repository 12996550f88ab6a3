"""Every invariant the audit checks, in the order it reports them, and the audit itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tripline_ops.audit import inventory_checks, money_checks
from tripline_ops.audit.report import AuditReport, Finding, Invariant, Violation, booking_subject, summarize
from tripline_ops.audit.snapshot import SERVICES, read_platform
from tripline_ops.audit.standing import AuditRules, Evidence, Standing


def payments_ledger(evidence: Evidence) -> Iterator[Finding]:
    """Whatever payments' own ledger audit found in the same snapshot of payments."""
    for finding in evidence.payments.ledger_findings:
        yield finding.subject, f"{finding.check}: {finding.detail}"


def no_stuck_bookings(evidence: Evidence) -> Iterator[Finding]:
    """No booking waits in a transitional status past its deadline (bookings' own stuck rule)."""
    now = evidence.bookings.read_at
    for booking in evidence.bookings.bookings.values():
        if evidence.standings[booking.id] is Standing.STUCK and booking.deadline_at is not None:
            late = (now - booking.deadline_at).total_seconds()
            waiting = f"{booking.status.value} (last changed {booking.updated_at.isoformat()})"
            expected = f"expected to move on by its deadline {booking.deadline_at.isoformat()}"
            yield booking_subject(booking.id), f"{waiting}; {expected}, passed {late:.0f} s ago"


INVARIANTS = (
    Invariant(
        "sold_seats",
        "every sold seat belongs to one confirmed or completed booking naming it; each of their seats is sold to it",
        inventory_checks.sold_seats,
    ),
    Invariant(
        "sold_room_nights",
        "each room night's sold rooms are the rooms of the confirmed and completed bookings covering it",
        inventory_checks.sold_room_nights,
    ),
    Invariant(
        "held_inventory",
        "held seats and rooms belong to live holds of known bookings, freed once a hold lapses past its grace",
        inventory_checks.held_inventory,
    ),
    Invariant(
        "seat_counts",
        "each departure on sale counts as available exactly its free seats",
        inventory_checks.seat_counts,
    ),
    Invariant(
        "one_debit_per_sale",
        "each confirmed booking was debited once, for its total, and a sold one got nothing back",
        money_checks.one_debit_per_sale,
    ),
    Invariant(
        "refunds",
        "refunds never exceed the debit; a paid booking that ended unsold got back what its end promises",
        money_checks.refunds,
    ),
    Invariant(
        "customer_money",
        "each wallet is its top-ups - debits + refunds + credits; payments kept what bookings says is owed",
        money_checks.customer_money,
    ),
    Invariant("payments_ledger", "payments' own ledger audit passes", payments_ledger),
    Invariant("no_stuck_bookings", "no booking waits in a transitional status past its deadline", no_stuck_bookings),
)


def audit_platform(database_urls: Mapping[str, str], rules: AuditRules | None = None) -> AuditReport:
    """Check every invariant on ``{"inventory": url, "bookings": url, "payments": url}``, read-only.

    Raises ``ValueError`` when a URL is missing and ``DatabaseUnreadable`` when a database cannot be read.
    """
    missing = [service for service in SERVICES if not database_urls.get(service)]
    if missing:
        raise ValueError(f"no database URL for {', '.join(missing)}")
    evidence = Evidence.weigh(read_platform(database_urls), rules or AuditRules())
    violations = [
        Violation(invariant.name, subject, detail)
        for invariant in INVARIANTS
        for subject, detail in invariant.check(evidence)
    ]
    return AuditReport(summarize(evidence), INVARIANTS, violations)
