"""The saga's handlers of inventory's and payments' replies, each run by bookings' worker through the inbox.

Each handler locks the booking, and either moves it on (sending the next command in the same transaction), or,
when the booking no longer expects the reply, acknowledges it, logs it, and compensates what it implies: held
inventory for a booking that is over is released, money taken for a booking that cannot be confirmed refunded.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import RowMapping

from bookings.adapters import booking_records as records
from bookings.domain.lifecycle import Event, Status
from bookings.service_layer.saga import (
    CANCELLED,
    CONFIRM_REJECTED,
    LATE_CONFIRM,
    LATE_DEBIT,
    LATE_RESERVE,
    Cause,
    SagaRules,
    is_payable,
    move,
    record_payment,
    send_refund,
    send_release,
    start_payment,
)
from tripline.contracts.inventory import (
    HoldConfirmed,
    HoldConfirmRejected,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    HoldReserved,
)
from tripline.contracts.payments import MAX_PAYMENT_MINOR, DebitDeclined, DebitSucceeded, RefundSucceeded, debit_key
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

log = structlog.get_logger(__name__)

# inventory's rejection reasons as the booking's failure codes (a reserve refused after its own release only
# happens to a booking already over, but is named like any other refusal to sell).
FAILURE_OF_REJECTION = {
    "seats_unavailable": "seats_unavailable",
    "rooms_unavailable": "rooms_unavailable",
    "not_sellable": "not_sellable",
    "hold_released": "not_sellable",
}


# Replies from inventory --------------------------------------------------------------------------------------


def on_hold_reserved(event: HoldReserved, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Price the booking from inventory's hold, and pay at once when the customer asked to; release if it is over."""
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
    if booking["status"] != Status.CANCELLING or not booking["awaiting_release"] or event.reason != CANCELLED:
        _ignore(envelope, booking)
        return
    released = records.change(uow.session, booking["id"], {"awaiting_release": False, "updated_at": now})
    _settle_cancellation(uow, released, envelope, rules, now)


def on_hold_expired(event: HoldExpired, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Inventory let a booking's hold go: a reserved booking expires, a paid one fails and is refunded at once.

    A booking being paid waits for payments' answer: its confirm will be refused, and that refunds it.
    """
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
    if booking["debit_transaction_id"] == event.transaction_id:
        _ignore(envelope, booking)
        return
    current_key = debit_key(booking["id"], max(booking["payment_attempts"], 1))
    if booking["status"] == Status.PAYMENT_PENDING and event.idempotency_key == current_key:
        record_payment(uow, booking, Cause("payment taken from the wallet", envelope), rules, now, event.transaction_id)
        return
    _compensate(envelope, booking, "refund")
    records.change(uow.session, booking["id"], {"debit_transaction_id": event.transaction_id, "updated_at": now})
    send_refund(uow, booking, LATE_DEBIT, None, envelope)


def on_debit_declined(event: DebitDeclined, envelope: Envelope, uow: OutboxUnitOfWork, rules: SagaRules) -> None:
    """Not paid: back to reserved with the reason, so the customer can top up and pay again before expiry."""
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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
    if (locked := _locked(uow, event.booking_id, envelope)) is None:
        return
    booking, now = locked
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


def _locked(uow: OutboxUnitOfWork, booking_id: uuid.UUID, envelope: Envelope) -> tuple[RowMapping, datetime] | None:
    locked = records.lock(uow.session, booking_id)
    if locked is None:
        # Commands are only sent for committed bookings, so this is another deployment's traffic: nothing to do.
        log.warning("reply_for_unknown_booking", booking_id=str(booking_id), message_id=str(envelope.id))
    return locked


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
