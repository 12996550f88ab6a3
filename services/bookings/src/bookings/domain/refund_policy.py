"""How much of a confirmed booking's price comes back when the customer cancels it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RefundPolicy:
    """Everything back up to ``full_before`` the start, ``partial_percent`` up to ``partial_before``, then nothing."""

    full_before: timedelta = timedelta(hours=24)
    partial_before: timedelta = timedelta(hours=2)
    partial_percent: int = 50

    def __post_init__(self) -> None:
        if self.partial_before > self.full_before:
            raise ValueError("the partial refund window must end after the full one")
        if not 0 <= self.partial_percent <= 100:
            raise ValueError("partial_percent must be between 0 and 100")

    def refund_due(self, paid_minor: int, starts_at: datetime, now: datetime) -> int:
        """Minor units to give back of ``paid_minor`` when cancelled at ``now`` (rounded down: never above the rule)."""
        lead = starts_at - now
        if lead >= self.full_before:
            return paid_minor
        if lead >= self.partial_before:
            return paid_minor * self.partial_percent // 100
        return 0
