"""Broken rules, each located by the request field it concerns: what the domain's checks answer with."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, located by the request field it concerns (``seats[3]``, ``to``)."""

    field: str
    message: str


class RulesBroken(Exception):
    """What was described breaks one or more rules; ``violations`` says which."""

    def __init__(self, violations: Sequence[Violation]):
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))
        self.violations = tuple(violations)


# A seat's fare or a room-night's rate (10^10 paise is ten crore rupees: far above any real price). With at most
# 100 seats, or 100 rooms for 30 nights, per item and 5 items per booking, a total stays far inside a BIGINT.
MAX_UNIT_PRICE_MINOR = 10**10


def unit_price_violations(field: str, amount_minor: int) -> list[Violation]:
    """A fare or nightly rate no larger than ``MAX_UNIT_PRICE_MINOR``."""
    if amount_minor > MAX_UNIT_PRICE_MINOR:
        return [Violation(f"{field}.amount_minor", f"Must be at most {MAX_UNIT_PRICE_MINOR}")]
    return []


def ensure_unit_price(field: str, amount_minor: int) -> None:
    """Raise ``RulesBroken`` for a fare or rate above ``MAX_UNIT_PRICE_MINOR``."""
    violations = unit_price_violations(field, amount_minor)
    if violations:
        raise RulesBroken(violations)


def item_violations(field: str, items: Sequence[str], pattern: re.Pattern[str], message: str) -> list[Violation]:
    """Each item matching ``pattern`` and none repeated; a repeat is reported where it reappears."""
    violations = [Violation(f"{field}[{i}]", message) for i, item in enumerate(items) if not pattern.fullmatch(item)]
    violations += [Violation(f"{field}[{i}]", "Duplicate value") for i in _repeats(items)]
    return sorted(violations, key=lambda v: (len(v.field), v.field))


def _repeats(items: Iterable[str]) -> list[int]:
    seen: Counter[str] = Counter()
    repeats = []
    for index, item in enumerate(items):
        seen[item] += 1
        if seen[item] > 1:
            repeats.append(index)
    return repeats
