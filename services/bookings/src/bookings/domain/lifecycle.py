"""The booking lifecycle: every status, every event, and the one table of legal transitions between them.

A booking is the saga instance. Everything that can happen to it (a reply from inventory or payments, a
customer's or admin's request, a timer) is an ``Event``; ``next_status`` looks the pair up in ``TRANSITIONS`` and
refuses anything the table does not list. Nothing changes a booking's status any other way.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """Where a booking stands."""

    PENDING = "pending"
    RESERVED = "reserved"
    PAYMENT_PENDING = "payment_pending"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_transitional(self) -> bool:
        """Waiting for another service's answer; past its deadline such a booking is stuck."""
        return self in TRANSITIONAL

    @property
    def is_terminal(self) -> bool:
        """Nothing more happens to it, except being soft-deleted."""
        return self in TERMINAL


TRANSITIONAL = frozenset({Status.PENDING, Status.PAYMENT_PENDING, Status.CONFIRMING, Status.CANCELLING})
TERMINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.EXPIRED, Status.FAILED})


class Event(enum.StrEnum):
    """What can happen to a booking."""

    HOLD_RESERVED = "hold_reserved"
    HOLD_REJECTED = "hold_rejected"
    PAY = "pay"
    DEBIT_SUCCEEDED = "debit_succeeded"
    DEBIT_DECLINED = "debit_declined"
    HOLD_CONFIRMED = "hold_confirmed"
    HOLD_CONFIRM_REJECTED = "hold_confirm_rejected"
    EXPIRE = "expire"
    COMPLETE = "complete"
    CANCEL = "cancel"
    # A confirmed booking's cancellation is settled once its seats are released and its refund is decided.
    CANCELLATION_SETTLED = "cancellation_settled"
    # An admin gives up on a stuck payment or sale: the booking fails, its items are released and its money refunded.
    ABANDON = "abandon"
    DELETE = "delete"


TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (Status.PENDING, Event.HOLD_RESERVED): Status.RESERVED,
    (Status.PENDING, Event.HOLD_REJECTED): Status.FAILED,
    (Status.PENDING, Event.CANCEL): Status.CANCELLED,
    (Status.RESERVED, Event.PAY): Status.PAYMENT_PENDING,
    (Status.RESERVED, Event.EXPIRE): Status.EXPIRED,
    (Status.RESERVED, Event.CANCEL): Status.CANCELLED,
    (Status.PAYMENT_PENDING, Event.DEBIT_SUCCEEDED): Status.CONFIRMING,
    (Status.PAYMENT_PENDING, Event.DEBIT_DECLINED): Status.RESERVED,
    (Status.CONFIRMING, Event.HOLD_CONFIRMED): Status.CONFIRMED,
    (Status.CONFIRMING, Event.HOLD_CONFIRM_REJECTED): Status.FAILED,
    (Status.PAYMENT_PENDING, Event.ABANDON): Status.FAILED,
    (Status.CONFIRMING, Event.ABANDON): Status.FAILED,
    (Status.CONFIRMED, Event.COMPLETE): Status.COMPLETED,
    (Status.CONFIRMED, Event.CANCEL): Status.CANCELLING,
    (Status.CANCELLING, Event.CANCELLATION_SETTLED): Status.CANCELLED,
    # Soft delete keeps the status and stamps deleted_at; only a booking that is over can be deleted.
    **{(status, Event.DELETE): status for status in TERMINAL},
}

# The timestamp a status stamps the first time the booking enters it (a declined payment returns a booking to
# reserved; reserved_at keeps the first reservation, the history keeps every return).
STAMPED_AT: dict[Status, str] = {
    Status.PENDING: "created_at",
    Status.RESERVED: "reserved_at",
    Status.PAYMENT_PENDING: "payment_requested_at",
    Status.CONFIRMED: "confirmed_at",
    Status.COMPLETED: "completed_at",
    Status.CANCELLED: "cancelled_at",
    Status.EXPIRED: "expired_at",
    Status.FAILED: "failed_at",
}


class InvalidTransition(Exception):
    """The event is not legal in the booking's current status."""

    def __init__(self, current: Status, event: Event):
        super().__init__(f"a {current.value} booking cannot take {event.value}")
        self.current = current
        self.event = event


def next_status(current: Status, event: Event) -> Status:
    """The status ``event`` moves a ``current`` booking to, or ``InvalidTransition``."""
    target = TRANSITIONS.get((current, event))
    if target is None:
        raise InvalidTransition(current, event)
    return target


def stamp_for(event: Event, target: Status) -> str | None:
    """The timestamp column this transition sets, if it sets one."""
    if event is Event.DELETE:
        return "deleted_at"
    return STAMPED_AT.get(target)
