"""The double-entry rules: every kind of transaction moves money between two accounts and creates none."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain import ledger
from payments.domain.ledger import AccountKind, TransactionKind

POSTINGS = {
    TransactionKind.TOP_UP: (ledger.top_up, AccountKind.TOP_UP_SOURCE),
    TransactionKind.CREDIT: (ledger.credit, AccountKind.REVENUE),
    TransactionKind.DEBIT: (ledger.debit, AccountKind.CLEARING),
    TransactionKind.REFUND: (ledger.refund, AccountKind.CLEARING),
}
MONEY_IN = {TransactionKind.TOP_UP, TransactionKind.CREDIT, TransactionKind.REFUND}


@pytest.mark.parametrize("kind", list(TransactionKind))
@given(amount=st.integers(min_value=1, max_value=ledger.MAX_WALLET_BALANCE_MINOR))
def test_every_posting_sums_to_zero_and_moves_its_amount(kind: TransactionKind, amount: int) -> None:
    make, _ = POSTINGS[kind]
    posting = make("alice", amount, "INR")
    assert posting.kind is kind
    assert sum(leg.amount for leg in posting.legs) == 0
    assert sum(leg.amount for leg in posting.legs if leg.amount > 0) == amount == posting.amount


@pytest.mark.parametrize("kind", list(TransactionKind))
def test_each_kind_moves_money_between_the_wallet_and_its_platform_account(kind: TransactionKind) -> None:
    make, counterpart = POSTINGS[kind]
    posting = make("alice", 500, "INR")
    wallet_leg = posting.wallet_leg
    other = next(leg for leg in posting.legs if leg is not wallet_leg)
    assert wallet_leg.account == ledger.wallet("alice", "INR")
    assert other.account == ledger.platform(counterpart, "INR")
    assert wallet_leg.amount == (500 if kind in MONEY_IN else -500)
    assert posting.currency == "INR"


@pytest.mark.parametrize("amount", [0, -1, -500])
@pytest.mark.parametrize("kind", list(TransactionKind))
def test_a_transaction_moves_a_positive_amount(kind: TransactionKind, amount: int) -> None:
    make, _ = POSTINGS[kind]
    with pytest.raises(ValueError, match="positive"):
        make("alice", amount, "INR")


def test_account_ids_are_stable_and_name_one_account_each() -> None:
    ids = {
        ledger.wallet("alice", "INR").id,
        ledger.wallet("bob", "INR").id,
        ledger.wallet("alice", "USD").id,
        *(ledger.platform(kind, "INR").id for kind in AccountKind if kind is not AccountKind.WALLET),
    }
    assert len(ids) == 6
    assert ledger.wallet("alice", "INR").id == ledger.wallet("alice", "INR").id


def test_a_customer_named_like_a_platform_account_gets_a_wallet_of_its_own() -> None:
    assert ledger.wallet("", "INR").id != ledger.platform(AccountKind.CLEARING, "INR").id
    assert ledger.wallet("clearing", "INR").id != ledger.platform(AccountKind.CLEARING, "INR").id


def test_a_wallet_is_not_a_platform_account() -> None:
    with pytest.raises(ValueError, match="customer"):
        ledger.platform(AccountKind.WALLET, "INR")


def test_a_refund_without_an_amount_gives_back_everything_left() -> None:
    assert ledger.refundable(debited=1000, refunded=300, requested=None) == 700


def test_a_refund_never_exceeds_what_is_left() -> None:
    assert ledger.refundable(debited=1000, refunded=300, requested=900) == 700
    assert ledger.refundable(debited=1000, refunded=1000, requested=1) == 0
    assert ledger.refundable(debited=0, refunded=0, requested=None) == 0


@given(
    debited=st.integers(min_value=0, max_value=10**12),
    share=st.floats(min_value=0, max_value=1),
    requested=st.one_of(st.none(), st.integers(min_value=1, max_value=10**13)),
)
def test_refunds_stay_within_the_debit_whatever_is_asked(debited: int, share: float, requested: int | None) -> None:
    refunded = int(debited * share)
    amount = ledger.refundable(debited=debited, refunded=refunded, requested=requested)
    assert 0 <= amount <= debited - refunded
    assert amount == (debited - refunded if requested is None else min(requested, debited - refunded))
