"""The booking saga: how a booking moves, the commands each move sends, and the handlers of every reply.

Every change to a booking happens here, under the booking's row lock, through ``move``: it asks the domain's
transition table for the next status (an illegal one raises), stamps the status's timestamp, sets or clears the
stuck deadline, writes a history row, and queues ``bookings.evt.booking.<status>``, all in the caller's
transaction together with the commands the move sends. So a crash anywhere leaves either all of it or none.

Replies that arrive when the booking no longer expects them are acknowledged and logged, and compensate when
they imply something the booking must not keep: held inventory for a booking that is over is released, money
taken for a booking that can no longer be confirmed is refunded.
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
    HoldConfirmed,
    HoldConfirmRejected,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    HoldReserved,
    HotelRoomsRequest,
    ReleaseHold,
    ReserveInventory,
)
from tripline.contracts.payments import (
    MAX_PAYMENT_MINOR,
    DebitDeclined,
    DebitSucceeded,
    DebitWallet,
    RefundPayment,
    RefundSucceeded,
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

# inventory's rejection reasons as the booking's failure codes (a reserve refused after its own release only
# happens to a booking already over, but is named like any other refusal to sell).
FAILURE_OF_REJECTION = {
    "seats_unavailable": "seats_unavailable",
    "rooms_unavailable": "rooms_unavailable",
    "not_sellable": "not_sellable",
    "hold_released": "not_sellable",
}


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
    changed = records.change(uow.session, booking["id"], values)
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
    now = records.database_now(uow.session)
    booking = records.add(
        uow.session,
        id=booking_id,
        customer_id=customer_id,
        status=Status.PENDING.value,
        items=[item | {"price": None} for item in items],
        payment_method=pay_by,
        created_at=now,
        updated_at=now,
        deadline_at=now + rules.step_timeout,
        version=1,
    )
    if booking is None:
        return None
    _announce(uow, booking, None, Cause("booked by the customer"), now)
    send_reserve(uow, booking, rules, None)
    return booking


def _announce(uow: OutboxUnitOfWork, booking: RowMapping, previous: Status | None, cause: Cause, at: datetime) -> None:
    status = Status(booking["status"])
    message_id = cause.message.id if cause.message else None
    records.add_transition(
        uow.session, booking["id"], previous, status, at, cause.reason, message_id, cause.request_key
    )
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
        return _paid(uow, paying, Cause("nothing to pay", cause.message), rules, now, None)
    send_debit(uow, paying, cause.message)
    return paying


def is_payable(booking: RowMapping) -> bool:
    """Priced, and within what one payment may move."""
    return booking["total_minor"] is not None and booking["total_minor"] <= MAX_PAYMENT_MINOR


def _paid(
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


# Replies from inventory --------------------------------------------------------------------------------------


def on_hold_reserved(event: HoldReserved, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Price the booking from inventory's hold, and pay at once when the customer asked to; release if it is over."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    status = Status(booking["status"])
    if status is not Status.PENDING:
        # A booking that was never reserved holds nothing by our account, so this hold is news and must go back;
        # one that was reserved released its hold when it ended, and this is a copy of the reply that reserved it.
        if status.is_terminal and booking["reserved_at"] is None:
            _compensate(envelope, booking, "release")
            send_release(uow, booking, LATE_RESERVE, envelope)
        else:
            _ignore(envelope, booking)
        return
    items = [
        {**asked, "price": held.price.model_dump(mode="json")}
        for asked, held in zip(booking["items"], event.items, strict=True)
    ]
    reserved = move(
        uow,
        booking,
        Event.HOLD_RESERVED,
        Cause("inventory held every item", envelope),
        rules,
        now,
        items=items,
        total_minor=event.total.amount_minor,
        currency=event.total.currency,
        expires_at=event.expires_at,
        starts_at=min(item.starts_at for item in event.items),
        ends_at=max(item.ends_at for item in event.items),
    )
    # A reply held up past its own deadline (a consumer down longer than the hold) cannot be paid any more: the
    # booking stays reserved and the expiry timer expires it and releases the items. So does a booking priced
    # above what one payment may move, with the reason for the customer.
    if reserved["payment_method"] is None or event.expires_at <= now:
        return
    if not is_payable(reserved):
        records.change(uow.session, reserved["id"], _too_large_to_pay())
        return
    start_payment(uow, reserved, Cause("paid on reservation, as the customer asked", envelope), rules, now)


def _too_large_to_pay() -> dict[str, Any]:
    return {
        "failure_code": "payment_limit_exceeded",
        "failure_message": f"One payment moves at most {MAX_PAYMENT_MINOR} minor units; split the booking.",
    }


def on_hold_rejected(event: HoldRejected, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Fail a pending booking with inventory's reason."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["status"] != Status.PENDING:
        _ignore(envelope, booking)
        return
    move(
        uow,
        booking,
        Event.HOLD_REJECTED,
        Cause(f"inventory refused: {event.reason}", envelope),
        rules,
        now,
        failure_code=FAILURE_OF_REJECTION[event.reason],
        failure_message=event.detail,
    )


def on_hold_confirmed(event: HoldConfirmed, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Confirm a paid booking; release items sold to a booking that never reached confirmed."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["status"] == Status.CONFIRMING:
        move(uow, booking, Event.HOLD_CONFIRMED, Cause("inventory sold every item", envelope), rules, now)
    elif Status(booking["status"]).is_terminal and booking["confirmed_at"] is None:
        _compensate(envelope, booking, "release")
        send_release(uow, booking, LATE_CONFIRM, envelope)
    else:
        _ignore(envelope, booking)


def on_hold_confirm_rejected(
    event: HoldConfirmRejected, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules
) -> None:
    """The paid booking cannot be sold: refund everything, then fail it."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["status"] != Status.CONFIRMING:
        _ignore(envelope, booking)
        return
    _fail_paid_booking(
        uow, booking, f"inventory could not sell the hold: {event.reason}", event.detail, envelope, rules, now
    )


def _fail_paid_booking(
    uow: OutboxUnitOfWork,
    booking: RowMapping,
    why: str,
    detail: str,
    envelope: Envelope,
    rules: SagaRules,
    now: datetime,
) -> None:
    """The hold of a paid booking cannot be sold: refund everything, then fail it."""
    if booking["debit_transaction_id"] is not None:
        send_refund(uow, booking, CONFIRM_REJECTED, None, envelope)
    move(
        uow,
        booking,
        Event.HOLD_CONFIRM_REJECTED,
        Cause(f"{why}; payment refunded", envelope),
        rules,
        now,
        failure_code="hold_lapsed",
        failure_message=detail,
        refund_minor=booking["total_minor"],
    )


def on_hold_released(event: HoldReleased, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """A cancelling booking's items are free again."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["status"] != Status.CANCELLING or not booking["awaiting_release"] or event.reason != CANCELLED:
        _ignore(envelope, booking)
        return
    released = records.change(uow.session, booking["id"], {"awaiting_release": False, "updated_at": now})
    _settle_cancellation(uow, released, envelope, rules, now)


def on_hold_expired(event: HoldExpired, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Inventory let a booking's hold go: a reserved booking expires, a paid one fails and is refunded at once.

    A booking being paid waits for payments' answer: its confirm will be refused, and that refunds it.
    """
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["status"] == Status.RESERVED:
        move(uow, booking, Event.EXPIRE, Cause("inventory released the lapsed hold", envelope), rules, now)
    elif booking["status"] == Status.CONFIRMING:
        # The hold is gone, so no confirm can succeed, whether or not one is still on its way.
        _fail_paid_booking(
            uow, booking, "inventory released the lapsed hold", "The hold lapsed past its grace.", envelope, rules, now
        )
    else:
        _ignore(envelope, booking)


# Replies from payments ---------------------------------------------------------------------------------------


def on_debit_succeeded(event: DebitSucceeded, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Paid: ask inventory to sell. Money for a booking that can no longer use it goes straight back."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    if booking["debit_transaction_id"] == event.transaction_id:
        _ignore(envelope, booking)
        return
    current_key = debit_key(booking["id"], max(booking["payment_attempts"], 1))
    if booking["status"] == Status.PAYMENT_PENDING and event.idempotency_key == current_key:
        _paid(uow, booking, Cause("payment taken from the wallet", envelope), rules, now, event.transaction_id)
        return
    _compensate(envelope, booking, "refund")
    records.change(uow.session, booking["id"], {"debit_transaction_id": event.transaction_id, "updated_at": now})
    send_refund(uow, booking, LATE_DEBIT, None, envelope)


def on_debit_declined(event: DebitDeclined, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Not paid: back to reserved with the reason, so the customer can top up and pay again before expiry."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    current_key = debit_key(booking["id"], max(booking["payment_attempts"], 1))
    if booking["status"] != Status.PAYMENT_PENDING or event.idempotency_key != current_key:
        _ignore(envelope, booking)
        return
    move(
        uow,
        booking,
        Event.DEBIT_DECLINED,
        Cause(f"payment declined: {event.reason}", envelope),
        rules,
        now,
        failure_code=event.reason,
        failure_message=event.detail,
    )


def on_refund_succeeded(event: RefundSucceeded, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Record what came back; a cancelling booking's refund settles its side of the cancellation."""
    booking, now = _locked(uow, event.booking_id, envelope)
    if booking is None:
        return
    values: dict[str, Any] = {}
    if event.refunded_total.amount_minor > (booking["refund_minor"] or 0):
        values["refund_minor"] = event.refunded_total.amount_minor
    settles = booking["status"] == Status.CANCELLING and booking["awaiting_refund"] and event.reason == CANCELLED
    if settles:
        values["awaiting_refund"] = False
    if not values:
        _ignore(envelope, booking)
        return
    refunded = records.change(uow.session, booking["id"], values | {"updated_at": now})
    if settles:
        _settle_cancellation(uow, refunded, envelope, rules, now)


def _settle_cancellation(
    uow: OutboxUnitOfWork, booking: RowMapping, envelope: Envelope, rules: SagaRules, now: datetime
) -> None:
    if booking["awaiting_release"] or booking["awaiting_refund"]:
        return
    move(
        uow,
        booking,
        Event.CANCELLATION_SETTLED,
        Cause("items released and refund settled", envelope),
        rules,
        now,
    )


# Handling a reply --------------------------------------------------------------------------------------------


def _locked(uow: OutboxUnitOfWork, booking_id: uuid.UUID, envelope: Envelope) -> tuple[RowMapping | None, datetime]:
    booking = records.lock(uow.session, booking_id)
    if booking is None:
        # Commands are only sent for committed bookings, so this is another deployment's traffic: nothing to do.
        log.warning("reply_for_unknown_booking", booking_id=str(booking_id), message_id=str(envelope.id))
    return booking, records.database_now(uow.session)


def _ignore(envelope: Envelope, booking: RowMapping) -> None:
    log.info(
        "reply_not_expected",
        booking_id=str(booking["id"]),
        status=booking["status"],
        message_type=envelope.type,
        message_id=str(envelope.id),
    )


def _compensate(envelope: Envelope, booking: RowMapping, action: str) -> None:
    log.warning(
        "late_reply_compensated",
        booking_id=str(booking["id"]),
        status=booking["status"],
        message_type=envelope.type,
        message_id=str(envelope.id),
        compensation=action,
    )
