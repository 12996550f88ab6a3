"""The debit and refund commands bookings sends: keys that name their booking and kind, amounts within bounds,
refund reasons that fit in a key, and customer ids a token could carry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from tripline.contracts.payments import MAX_PAYMENT_MINOR, DebitWallet, RefundPayment, debit_key, refund_key

BOOKING = uuid.UUID("0b7d6c1e-2f43-4a5b-9c8d-7e6f5a4b3c2d")
OTHER_BOOKING = uuid.UUID("5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716")


def inr(amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": "INR"}


def debit(**changes: Any) -> DebitWallet:
    fields = {"booking_id": BOOKING, "customer_id": "asha", "amount": inr(2_500), "idempotency_key": debit_key(BOOKING)}
    return DebitWallet.model_validate(fields | changes)


def refund(**changes: Any) -> RefundPayment:
    fields = {
        "booking_id": BOOKING,
        "amount": None,
        "reason": "cancelled",
        "idempotency_key": refund_key(BOOKING, "cancelled"),
    }
    return RefundPayment.model_validate(fields | changes)


def refused_fields(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(part) for part in detail["loc"]) for detail in error.value.errors()}


# Keys ----------------------------------------------------------------------------------------------------------


def test_the_first_attempt_to_pay_has_the_bookings_debit_key_and_later_ones_are_numbered() -> None:
    assert debit_key(BOOKING) == debit_key(BOOKING, 1) == f"booking:{BOOKING}:debit"
    assert debit_key(BOOKING, 2) == f"booking:{BOOKING}:debit:2"
    assert debit_key(BOOKING, 10) == f"booking:{BOOKING}:debit:10"
    assert len({debit_key(BOOKING, attempt) for attempt in range(1, 6)}) == 5


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="from 1"):
        debit_key(BOOKING, attempt)


@pytest.mark.parametrize("attempt", [1, 2, 7])
def test_a_debit_may_carry_the_key_of_any_attempt_to_pay_its_booking(attempt: int) -> None:
    assert debit(idempotency_key=debit_key(BOOKING, attempt)).idempotency_key == debit_key(BOOKING, attempt)


@pytest.mark.parametrize(
    "key",
    [
        debit_key(OTHER_BOOKING),
        debit_key(OTHER_BOOKING, 2),
        refund_key(BOOKING, "cancelled"),
        f"booking:{BOOKING}",
        "checkout-42",
    ],
    ids=["another-bookings-debit", "another-bookings-retry", "a-refunds-key", "no-kind", "unrelated"],
)
def test_a_debit_under_a_key_of_another_booking_or_kind_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="idempotency_key must start with"):
        debit(idempotency_key=key)


@pytest.mark.parametrize(
    "key",
    [refund_key(OTHER_BOOKING, "cancelled"), debit_key(BOOKING), f"booking:{BOOKING}:refund", "cancel-42"],
    ids=["another-bookings-refund", "a-debits-key", "no-reason-separator", "unrelated"],
)
def test_a_refund_under_a_key_of_another_booking_or_kind_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="idempotency_key must start with"):
        refund(idempotency_key=key)


def test_a_refund_may_carry_a_key_of_its_own_reason_for_its_booking() -> None:
    command = refund(reason="confirm_rejected", idempotency_key=refund_key(BOOKING, "confirm_rejected"))

    assert command.idempotency_key == f"booking:{BOOKING}:refund:confirm_rejected"


# Refund reasons ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    ["seat changed", " cancelled", "cancelled ", "late\tdebit", "late\nbus", "caf\u00e9", "", "r" * 201],
    ids=["space", "leading-space", "trailing-space", "tab", "newline", "non-ascii", "empty", "201-characters"],
)
def test_a_refund_reason_must_be_printable_ascii_without_spaces(reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        refund(reason=reason)

    assert "reason" in refused_fields(refused)


@pytest.mark.parametrize("reason", ["cancelled", "confirm_rejected", "late-debit:2", "r" * 200])
def test_reasons_that_fit_in_a_key_are_accepted(reason: str) -> None:
    assert refund(reason=reason, idempotency_key=refund_key(BOOKING, reason)).reason == reason


# Customers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "customer_id",
    ["asha\x00", "\x07bell", "ali\nce", "tab\there", "esc\x1b[0m", "del\x7f", "", "c" * 65],
    ids=["nul", "bell", "newline", "tab", "escape", "delete", "empty", "65-characters"],
)
def test_a_customer_id_no_token_could_carry_is_refused(customer_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        debit(customer_id=customer_id)

    assert refused_fields(refused) == {"customer_id"}


@pytest.mark.parametrize(
    "customer_id",
    ["next\x85line", "csi\x9b", "line\u2028separator"],
    ids=["c1-next-line", "c1-control-sequence", "line-separator"],
)
def test_a_customer_id_with_a_character_a_token_subject_may_not_hold_is_refused(customer_id: str) -> None:
    """Tokens accept printable subjects only; a debit for a subject no token can carry pays for nobody."""
    with pytest.raises(ValidationError) as refused:
        debit(customer_id=customer_id)

    assert refused_fields(refused) == {"customer_id"}


@pytest.mark.parametrize("customer_id", ["asha", "Asha Rao", "jos\u00e9", "c" * 64])
def test_printable_customer_ids_up_to_64_characters_are_accepted(customer_id: str) -> None:
    assert debit(customer_id=customer_id).customer_id == customer_id


# Amounts -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount_minor", [0, MAX_PAYMENT_MINOR + 1, 10**15])
def test_a_debit_or_refund_of_nothing_or_more_than_ten_billion_minor_units_is_refused(amount_minor: int) -> None:
    with pytest.raises(ValidationError, match="between 1 and 10000000000"):
        debit(amount=inr(amount_minor))
    with pytest.raises(ValidationError, match="between 1 and 10000000000"):
        refund(amount=inr(amount_minor))


@pytest.mark.parametrize("amount_minor", [1, MAX_PAYMENT_MINOR])
def test_one_and_ten_billion_minor_units_may_be_paid_and_refunded(amount_minor: int) -> None:
    assert MAX_PAYMENT_MINOR == 10**10
    assert debit(amount=inr(amount_minor)).amount.amount_minor == amount_minor
    refunded = refund(amount=inr(amount_minor)).amount
    assert refunded is not None
    assert refunded.amount_minor == amount_minor


def test_a_refund_without_an_amount_gives_back_whatever_is_left() -> None:
    assert refund().amount is None
