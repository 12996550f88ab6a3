"""The booking saga: how a booking moves, the commands each move sends, and the steps requests start.

Every change to a booking happens here, under the booking's row lock, through ``move``: it asks the domain's
transition table for the next status (an illegal one raises), stamps the status's timestamp, sets or clears the
stuck deadline, writes a history row, and queues ``bookings.evt.booking.<status>``, all in the caller's
transaction together with the commands the move sends. So a crash anywhere leaves either all of it or none.
The handlers of inventory's and payments' replies are in ``replies``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import RowMapping

from bookings.adapters import booking_records as records
from bookings.domain.lifecycle import Event, Status, next_status, stamp_for
from bookings.domain.refund_policy import RefundPolicy
from tripline.contracts.bookings import BookingStatusChanged
from tripline.contracts.inventory import (
    BusSeatsRequest,
    ConfirmHold,
    HotelRoomsRequest,
    ReleaseHold,
    ReserveInventory,
)
from tripline.contracts.payments import (
    MAX_PAYMENT_MINOR,
    DebitWallet,
    RefundPayment,
    debit_key,
    refund_key,
)
from tripline.contracts.values import Money
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

log = structlog.get_logger(__name__)

# Why the saga asks inventory to release or payments to refund; each reason is also the refund's key suffix.
CANCELLED = "cancelled"
EXPIRED = "expired"
LATE_RESERVE = "late_reserve"
LATE_CONFIRM = "late_confirm"
LATE_DEBIT = "late_debit"
CONFIRM_REJECTED = "confirm_rejected"
ABANDONED = "abandoned"


@dataclass(frozen=True)
class SagaRules:
    """The deployment's timings and refund policy."""

    hold_ttl: timedelta
    step_timeout: timedelta
    refund_policy: RefundPolicy


@dataclass(frozen=True)
class Cause:
    """Why a booking changes: a reason for its history, and the message that caused it, if one did."""

    reason: str
    message: Envelope | None = None
    # ``<caller>:<Idempotency-Key>`` of the HTTP request that caused the change, if one did.
    request_key: str | None = None


class BookingExpired(Exception):
    """The booking was reserved, but its ``expires_at`` has passed: it can no longer be paid."""


class NotPayable(Exception):
    """The booking has no price yet, or one larger than a single payment may be."""


class NotWaiting(Exception):
    """The booking waits for no other service, so there is no step to send again."""


# Moving a booking --------------------------------------------------------------------------------------------


def move(
    uow: OutboxUnitOfWork,
    booking: RowMapping,
    event: Event,
    cause: Cause,
    rules: SagaRules,
    now: datetime,
    **values: Any,
) -> RowMapping:
    """Apply ``event`` to a locked booking (``InvalidTransition`` if illegal) and record it; returns the new row."""
    current = Status(booking["status"])
    target = next_status(current, event)
    stamp = stamp_for(event, target)
    if stamp is not None and booking[stamp] is None:
        values[stamp] = now
    values |= {
        "status": target.value,
        "version": booking["version"] + 1,
        "deadline_at": now + rules.step_timeout if target.is_transitional else None,
        "updated_at": now,
    }
    changed = records.change(uow.session, booking["id"], values, noting=_transition(current, target, cause, now))
    _announce(uow, changed, current, cause, now)
    return changed


def open_booking(
    uow: OutboxUnitOfWork,
    rules: SagaRules,
    *,
    booking_id: uuid.UUID,
    customer_id: str,
    items: list[dict[str, Any]],
    pay_by: str | None,
) -> RowMapping | None:
    """Write a new pending booking and ask inventory to hold its items; None if ``booking_id`` already exists."""
    booking = records.add(
        uow.session,
        deadline_in=rules.step_timeout,
        id=booking_id,
        customer_id=customer_id,
        status=Status.PENDING.value,
        items=[item | {"price": None} for item in items],
        payment_method=pay_by,
        version=1,
    )
    if booking is None:
        return None
    cause, now = Cause("booked by the customer"), booking["created_at"]
    records.add_transition(uow.session, booking["id"], _transition(None, Status.PENDING, cause, now))
    _announce(uow, booking, None, cause, now)
    send_reserve(uow, booking, rules, None)
    return booking


def _transition(previous: Status | None, status: Status, cause: Cause, at: datetime) -> records.Transition:
    message_id = cause.message.id if cause.message else None
    return records.Transition(previous, status, at, cause.reason, message_id, cause.request_key)


def _announce(uow: OutboxUnitOfWork, booking: RowMapping, previous: Status | None, cause: Cause, at: datetime) -> None:
    """Tell subscribers the booking's status changed (its history row is written with the change)."""
    status = Status(booking["status"])
    if previous is status:
        return  # soft delete keeps the status: history records it, subscribers have nothing new to hear
    uow.outbox.add(
        BookingStatusChanged(
            booking_id=booking["id"],
            customer_id=booking["customer_id"],
            from_status=previous.value if previous else None,
            status=status.value,
            reason=cause.reason,
            at=at,
            total=total_of(booking),
            refund=refund_of(booking),
            failure_code=booking["failure_code"],
            version=booking["version"],
        ),
        correlation_id=str(booking["id"]),
        causation=cause.message,
    )


def total_of(booking: RowMapping) -> Money | None:
    """What the booking costs, once inventory has priced it."""
    if booking["total_minor"] is None:
        return None
    return Money(amount_minor=booking["total_minor"], currency=booking["currency"])


def refund_of(booking: RowMapping) -> Money | None:
    """What came (or is coming) back to the customer, if anything was decided."""
    if booking["refund_minor"] is None or booking["currency"] is None:
        return None
    return Money(amount_minor=booking["refund_minor"], currency=booking["currency"])


# Commands the saga sends -------------------------------------------------------------------------------------


def _send(uow: OutboxUnitOfWork, booking: RowMapping, command: Contract, causation: Envelope | None) -> None:
    uow.outbox.add(command, correlation_id=str(booking["id"]), causation=causation)


def send_reserve(uow: OutboxUnitOfWork, booking: RowMapping, rules: SagaRules, causation: Envelope | None) -> None:
    """Ask inventory to hold every item (the same request each time: inventory answers it once, forever)."""
    requests: list[BusSeatsRequest | HotelRoomsRequest] = []
    for item in booking["items"]:
        if item["type"] == "bus_seats":
            requests.append(BusSeatsRequest(schedule_id=item["schedule_id"], seats=item["seats"]))
        else:
            requests.append(
                HotelRoomsRequest(
                    room_type_id=item["room_type_id"],
                    check_in=item["check_in"],
                    check_out=item["check_out"],
                    rooms=item["rooms"],
                    guests=item["guests"],
                )
            )
    hold_seconds = int(rules.hold_ttl.total_seconds())
    _send(
        uow, booking, ReserveInventory(booking_id=booking["id"], items=requests, hold_seconds=hold_seconds), causation
    )


def send_debit(uow: OutboxUnitOfWork, booking: RowMapping, causation: Envelope | None) -> None:
    """Ask payments to take the booking's total under the current attempt's key."""
    total = total_of(booking)
    assert total is not None
    key = debit_key(booking["id"], booking["payment_attempts"])
    command = DebitWallet(
        booking_id=booking["id"], customer_id=booking["customer_id"], amount=total, idempotency_key=key
    )
    _send(uow, booking, command, causation)


def send_confirm(uow: OutboxUnitOfWork, booking: RowMapping, causation: Envelope | None) -> None:
    """Ask inventory to sell the held items."""
    _send(uow, booking, ConfirmHold(booking_id=booking["id"]), causation)


def send_release(uow: OutboxUnitOfWork, booking: RowMapping, reason: str, causation: Envelope | None) -> None:
    """Ask inventory to free the booking's items (safe whether or not it ever held them)."""
    _send(uow, booking, ReleaseHold(booking_id=booking["id"], reason=reason), causation)


def send_refund(
    uow: OutboxUnitOfWork, booking: RowMapping, reason: str, amount_minor: int | None, causation: Envelope | None
) -> None:
    """Ask payments to give back ``amount_minor`` (everything that was debited when None), once per reason."""
    amount = None if amount_minor is None else Money(amount_minor=amount_minor, currency=booking["currency"])
    command = RefundPayment(
        booking_id=booking["id"], amount=amount, reason=reason, idempotency_key=refund_key(booking["id"], reason)
    )
    _send(uow, booking, command, causation)


# Steps started by a request or a reply -----------------------------------------------------------------------


def start_payment(
    uow: OutboxUnitOfWork, booking: RowMapping, cause: Cause, rules: SagaRules, now: datetime
) -> RowMapping:
    """Move a reserved booking to payment_pending and ask payments for the money, under a new attempt's key."""
    status = Status(booking["status"])
    if status is Status.RESERVED and booking["expires_at"] <= now:
        raise BookingExpired()
    next_status(status, Event.PAY)  # refuse before anything is written
    if not is_payable(booking):
        raise NotPayable()
    attempt = booking["payment_attempts"] + 1
    paying = move(
        uow,
        booking,
        Event.PAY,
        cause,
        rules,
        now,
        payment_attempts=attempt,
        payment_method="wallet",
        failure_code=None,
        failure_message=None,
    )
    if paying["total_minor"] == 0:
        # Nothing to take: payments only moves money, so the booking goes straight on to be sold.
        return record_payment(uow, paying, Cause("nothing to pay", cause.message), rules, now, None)
    send_debit(uow, paying, cause.message)
    return paying


def is_payable(booking: RowMapping) -> bool:
    """Priced, and within what one payment may move."""
    return booking["total_minor"] is not None and booking["total_minor"] <= MAX_PAYMENT_MINOR


def record_payment(
    uow: OutboxUnitOfWork,
    booking: RowMapping,
    cause: Cause,
    rules: SagaRules,
    now: datetime,
    transaction_id: uuid.UUID | None,
) -> RowMapping:
    confirming = move(uow, booking, Event.DEBIT_SUCCEEDED, cause, rules, now, debit_transaction_id=transaction_id)
    send_confirm(uow, confirming, cause.message)
    return confirming


def cancel(uow: OutboxUnitOfWork, booking: RowMapping, cause: Cause, rules: SagaRules, now: datetime) -> RowMapping:
    """Cancel a pending, reserved or confirmed booking: release its items, and refund a paid one by policy."""
    status = Status(booking["status"])
    if status is not Status.CONFIRMED:
        cancelled = move(uow, booking, Event.CANCEL, cause, rules, now, cancel_reason=cause.reason)
        send_release(uow, cancelled, CANCELLED, cause.message)
        return cancelled
    refund_minor = rules.refund_policy.refund_due(booking["total_minor"], booking["starts_at"], now)
    cancelling = move(
        uow,
        booking,
        Event.CANCEL,
        cause,
        rules,
        now,
        cancel_reason=cause.reason,
        refund_minor=refund_minor,
        awaiting_release=True,
        awaiting_refund=refund_minor > 0,
    )
    send_release(uow, cancelling, CANCELLED, cause.message)
    if refund_minor > 0:
        send_refund(uow, cancelling, CANCELLED, refund_minor, cause.message)
    return cancelling


def resend_awaited_step(uow: OutboxUnitOfWork, booking: RowMapping, rules: SagaRules, now: datetime) -> RowMapping:
    """Send again the command a transitional booking waits for, and give it a new deadline (an admin's retry)."""
    status = Status(booking["status"])
    if not status.is_transitional:
        raise NotWaiting()
    if status is Status.PENDING:
        send_reserve(uow, booking, rules, None)
    elif status is Status.PAYMENT_PENDING:
        send_debit(uow, booking, None)
    elif status is Status.CONFIRMING:
        send_confirm(uow, booking, None)
    else:
        if booking["awaiting_release"]:
            send_release(uow, booking, CANCELLED, None)
        if booking["awaiting_refund"]:
            send_refund(uow, booking, CANCELLED, booking["refund_minor"], None)
    log.info("booking_step_resent", booking_id=str(booking["id"]), status=status.value)
    return records.change(uow.session, booking["id"], {"deadline_at": now + rules.step_timeout, "updated_at": now})


def abandon(uow: OutboxUnitOfWork, booking: RowMapping, cause: Cause, rules: SagaRules, now: datetime) -> RowMapping:
    """Give up on a booking stuck in payment or sale (an admin's compensation): fail it, release, refund everything.

    Both compensations are safe whatever happened meanwhile: a release without a hold leaves inventory's tombstone,
    and a refund before the debit makes payments give back a debit that still arrives.
    """
    failed = move(
        uow,
        booking,
        Event.ABANDON,
        cause,
        rules,
        now,
        failure_code="abandoned",
        failure_message="An admin ended the booking while it waited for another service; its money is refunded.",
    )
    send_release(uow, failed, ABANDONED, None)
    if failed["total_minor"]:
        send_refund(uow, failed, ABANDONED, None, None)
    return failed
