"""Nights and allotments: which nights a range covers and what an owner may set on them.

A night is named by the date the guest arrives; a range ``[from, to)`` covers every night from ``from`` up to,
not including, ``to`` (the morning the guest leaves), exactly like a stay's check-in and check-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# A year, leap day included: enough to load a season at once, small enough for one statement.
MAX_NIGHTS = 366
MAX_ROOMS = 10_000


@dataclass(frozen=True, slots=True)
class Objection:
    """One reason a range is refused, naming the bound (``from`` or ``to``) at fault."""

    field: str
    message: str


class InvalidNights(ValueError):
    """The range cannot be used; ``objections`` says which bound and why."""

    def __init__(self, objections: Sequence[Objection]):
        super().__init__("; ".join(f"{o.field}: {o.message}" for o in objections))
        self.objections = tuple(objections)


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
    """The nights ``[start, end)``, or ``InvalidNights`` when the range is empty or too long."""
    objections = _span_objections(start, end)
    if objections:
        raise InvalidNights(objections)
    return NightRange(start, end)


def allotment_range(start: date, end: date, today: date) -> NightRange:
    """Nights an owner may set an allotment on: a valid range that does not start before ``today``."""
    objections = []
    if start < today:
        # Past nights can no longer be sold; changing them would only rewrite history.
        objections.append(Objection("from", f"Must not be before today ({today.isoformat()})"))
    objections += _span_objections(start, end)
    if objections:
        raise InvalidNights(objections)
    return NightRange(start, end)


def available(total: int, held: int, sold: int) -> int:
    """Rooms of a night still free to hold."""
    return total - held - sold


def _span_objections(start: date, end: date) -> list[Objection]:
    if end <= start:
        return [Objection("to", "Must be after from")]
    if (end - start).days > MAX_NIGHTS:
        return [Objection("to", f"Must be at most {MAX_NIGHTS} nights after from")]
    return []
