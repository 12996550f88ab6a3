"""Who may sell: the approval lifecycle of operators and property owners."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ApprovalStatus(enum.StrEnum):
    """Where a supplier stands with the platform."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class Decision(enum.StrEnum):
    """What an admin can decide about a supplier."""

    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"


TRANSITIONS: dict[tuple[ApprovalStatus, Decision], ApprovalStatus] = {
    (ApprovalStatus.PENDING, Decision.APPROVE): ApprovalStatus.APPROVED,
    (ApprovalStatus.PENDING, Decision.REJECT): ApprovalStatus.REJECTED,
    (ApprovalStatus.REJECTED, Decision.APPROVE): ApprovalStatus.APPROVED,
    (ApprovalStatus.APPROVED, Decision.SUSPEND): ApprovalStatus.SUSPENDED,
    (ApprovalStatus.SUSPENDED, Decision.APPROVE): ApprovalStatus.APPROVED,
}

# The timestamp column each status stamps when it is entered.
STAMPED_AT = {
    ApprovalStatus.PENDING: "submitted_at",
    ApprovalStatus.APPROVED: "approved_at",
    ApprovalStatus.REJECTED: "rejected_at",
    ApprovalStatus.SUSPENDED: "suspended_at",
}


class InvalidTransition(Exception):
    """The decision is not legal from the supplier's current status."""

    def __init__(self, current: ApprovalStatus, decision: Decision):
        super().__init__(f"cannot {decision.value} a supplier that is {current.value}")
        self.current = current
        self.decision = decision


@dataclass(frozen=True)
class Review:
    """The outcome of a legal decision: the new status and what to record."""

    from_status: ApprovalStatus
    to_status: ApprovalStatus
    reviewer: str
    note: str | None
    at: datetime

    @property
    def stamped_column(self) -> str:
        """The timestamp column this review sets."""
        return STAMPED_AT[self.to_status]


def review(current: ApprovalStatus, decision: Decision, reviewer: str, note: str | None, at: datetime) -> Review:
    """Apply ``decision`` to a supplier in ``current`` status, or raise ``InvalidTransition``."""
    target = TRANSITIONS.get((current, decision))
    if target is None:
        raise InvalidTransition(current, decision)
    return Review(current, target, reviewer, note, at)


def is_sellable(status: ApprovalStatus | str) -> bool:
    """Only an approved supplier's inventory can be reserved."""
    return status == ApprovalStatus.APPROVED
