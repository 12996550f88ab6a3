"""Nights and allotments: which nights a range covers and what an owner may set on them.

A night is named by the date the guest arrives; a range ``[from, to)`` covers every night from ``from`` up to,
not including, ``to`` (the morning the guest leaves), exactly like a stay's check-in and check-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from inventory.domain.violations import RulesBroken, Violation

# A year, leap day included: enough to load a season at once, small enough for one statement.
MAX_NIGHTS = 366
MAX_ROOMS = 10_000


@dataclass(frozen=True, slots=True)
class NightRange:
    """The nights ``[start, end)``; never empty and never longer than ``MAX_NIGHTS``."""

    start: date
    end: date

    @property
    def count(self) -> int:
        """How many nights the range covers."""
        return (self.end - self.start).days

    def nights(self) -> list[date]:
        """Every night of the range, earliest first (the order rows are locked in)."""
        return [self.start + timedelta(days=offset) for offset in range(self.count)]


def night_range(start: date, end: date) -> NightRange:
    """The nights ``[start, end)``, or ``RulesBroken`` naming the bound (``to``) when empty or too long."""
    violations = _span_violations(start, end)
    if violations:
        raise RulesBroken(violations)
    return NightRange(start, end)


def allotment_range(start: date, end: date, today: date) -> NightRange:
    """Nights an owner may set an allotment on: a valid range that does not start before ``today``."""
    violations = []
    if start < today:
        # Past nights can no longer be sold; changing them would only rewrite history.
        violations.append(Violation("from", f"Must not be before today ({today.isoformat()})"))
    violations += _span_violations(start, end)
    if violations:
        raise RulesBroken(violations)
    return NightRange(start, end)


def available(total: int, held: int, sold: int) -> int:
    """Rooms of a night still free to hold."""
    return total - held - sold


def _span_violations(start: date, end: date) -> list[Violation]:
    if end <= start:
        return [Violation("to", "Must be after from")]
    if (end - start).days > MAX_NIGHTS:
        return [Violation("to", f"Must be at most {MAX_NIGHTS} nights after from")]
    return []
