"""Invariants between payments and bookings: who paid what for each booking, and what each customer holds.

Each check yields ``(subject, detail)`` findings, like the inventory checks.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from bookings.domain.lifecycle import Status
from tripline_ops.audit.records import SOLD, Booking, BookingTransaction
from tripline_ops.audit.report import Finding, booking_subject
from tripline_ops.audit.standing import Evidence

DEBIT = "debit"


@dataclass
class BookingMoney:
    """A booking's debits and refunds in payments' ledger."""

    debits: list[BookingTransaction] = field(default_factory=list)
    refunds: list[BookingTransaction] = field(default_factory=list)

    @property
    def debited(self) -> int:
        return sum(debit.amount for debit in self.debits)

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)


def money_by_booking(evidence: Evidence) -> dict[uuid.UUID, BookingMoney]:
    money: dict[uuid.UUID, BookingMoney] = {}
    for transaction in evidence.payments.transactions:
        moved = money.setdefault(transaction.booking_id, BookingMoney())
        (moved.debits if transaction.kind == DEBIT else moved.refunds).append(transaction)
    return money


def was_paid_for(booking: Booking) -> bool:
    """Confirmed at some point, so paid its total: confirmed, completed, or cancelled after confirmation."""
    return booking.status in SOLD or (booking.status is Status.CANCELLED and booking.was_confirmed)


# One debit per sale ---------------------------------------------------------------------------------------------


def one_debit_per_sale(evidence: Evidence) -> Iterator[Finding]:
    """A confirmed booking was debited once, for its total, from its customer; a sold one got nothing back."""
    money = money_by_booking(evidence)
    for booking in evidence.bookings.bookings.values():
        moved = money.get(booking.id, BookingMoney())
        yield from _debits_match(booking, moved)
        if evidence.settled(booking) and was_paid_for(booking) and booking.total and not moved.debits:
            yield booking_subject(booking.id), f"{ending(booking)} for {booking.total}; expected one debit, found none"
        if evidence.settled(booking) and booking.status in SOLD:
            yield from _kept_whole(evidence, booking, moved)


def _debits_match(booking: Booking, moved: BookingMoney) -> Iterator[Finding]:
    subject = booking_subject(booking.id)
    if len(moved.debits) > 1:
        amounts = ", ".join(str(debit.amount) for debit in moved.debits)
        yield subject, f"debited {len(moved.debits)} times ({amounts}); expected exactly one debit of {booking.total}"
    for debit in moved.debits:
        if debit.amount != booking.total:
            yield subject, f"debit {debit.id} takes {debit.amount}; expected the booking's total, {booking.total}"
        if debit.customer_id != booking.customer_id:
            yield subject, f"debit {debit.id} is from {debit.customer_id}'s wallet; expected {booking.customer_id}'s"


def _kept_whole(evidence: Evidence, booking: Booking, moved: BookingMoney) -> Iterator[Finding]:
    subject = booking_subject(booking.id)
    if moved.refunded:
        yield subject, f"{booking.status.value}, yet refunded {moved.refunded}; expected nothing back"
    totals = evidence.payments.booking_payments.get(booking.id)
    found = (totals.debited, totals.refunded) if totals else (0, 0)
    if found != (booking.total, 0):
        detail = f"payments' totals say debited {found[0]}, refunded {found[1]}"
        yield subject, f"{detail}; expected debited {booking.total}, refunded 0"


# Refunds --------------------------------------------------------------------------------------------------------


def refunds(evidence: Evidence) -> Iterator[Finding]:
    """Never more back than debited; a paid booking that ended unsold gets back what its end promises."""
    money = money_by_booking(evidence)
    for booking_id, moved in money.items():
        booking = evidence.booking(booking_id)
        if booking is None:
            moved_money = f"payments debited {moved.debited} and refunded {moved.refunded}"
            yield booking_subject(booking_id), f"{moved_money} for a booking bookings does not know"
        elif moved.refunded > moved.debited:
            yield booking_subject(booking_id), f"refunded {moved.refunded} of a {moved.debited} debit"
    for booking in evidence.bookings.bookings.values():
        moved = money.get(booking.id, BookingMoney())
        due = refund_due(booking, moved.debited)
        if evidence.settled(booking) and moved.debited and due is not None and moved.refunded != due:
            detail = f"refunded {moved.refunded} of {moved.debited} debited; expected {due}"
            yield booking_subject(booking.id), f"{ending(booking)}: {detail}"


def ending(booking: Booking) -> str:
    """How the booking ended, in the words its refund rule depends on."""
    if booking.status is Status.CANCELLED:
        return "cancelled after confirmation" if booking.was_confirmed else "cancelled before payment"
    return booking.status.value


def refund_due(booking: Booking, debited: int) -> int | None:
    """What a settled, debited booking must have got back; None for a sold one (nothing, checked with its debit)."""
    if booking.status in SOLD:
        return None
    if booking.status is Status.CANCELLED and booking.was_confirmed:
        return booking.refund_minor or 0
    # Never sold (failed, expired, cancelled before payment, or reserved again after a late debit): all of it.
    return debited


# Money per customer ---------------------------------------------------------------------------------------------


def customer_money(evidence: Evidence) -> Iterator[Finding]:
    """Each wallet adds up, and payments kept from each customer what bookings says the customer owes."""
    for wallet in evidence.payments.wallets:
        if wallet.balance != wallet.expected_balance():
            sums = f"top-ups {wallet.top_ups} - debits {wallet.debits} + refunds {wallet.refunds}"
            sums += f" + credits {wallet.credits} = {wallet.expected_balance()}"
            yield f"customer {wallet.customer_id} ({wallet.currency})", f"balance {wallet.balance}; {sums}"
    kept: Counter[str] = Counter()
    for transaction in evidence.payments.transactions:
        if transaction.customer_id is not None:
            kept[transaction.customer_id] += transaction.amount if transaction.kind == DEBIT else -transaction.amount
    owed_least: Counter[str] = Counter()
    owed_most: Counter[str] = Counter()
    for booking in evidence.bookings.bookings.values():
        least, most = evidence.owed_range(booking)
        owed_least[booking.customer_id] += least
        owed_most[booking.customer_id] += most
    for customer in sorted(set(kept) | set(owed_most)):
        least, most = owed_least[customer], owed_most[customer]
        if not least <= kept[customer] <= most:
            tolerance = f" (up to {most} with bookings in flight)" if most > least else ""
            detail = f"payments kept {kept[customer]} (debits - refunds); bookings says they owe {least}{tolerance}"
            yield f"customer {customer}", detail
