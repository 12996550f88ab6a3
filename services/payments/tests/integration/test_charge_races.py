"""Debits, refunds and top-ups racing on real PostgreSQL: each delivery in its own transaction, as worker threads
run them. Money is moved once per key, no wallet goes below zero and no booking gets back more than it paid."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from payments.domain.ledger import wallet
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import Outcome
from tripline.testing import outbox_payloads, sql

from ..cashier import CURRENCY, Cashier, Reply, command_envelope, debit_command, refund_command

CUSTOMER = "cust-meera"
T = TypeVar("T")
R = TypeVar("R")


def all_at_once(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``work`` on every item from its own thread (at most 20, the cashier's pool), results in item order."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(work, items))


def answered(cashier: Cashier, envelope: Envelope) -> Reply:
    """Deliver ``envelope`` and return its one reply."""
    cashier.deliver(envelope)
    [reply] = cashier.replies_to(envelope)
    return reply


def ledger_count(database_url: str, kind: str) -> int:
    return sql(database_url, "SELECT count(*) FROM ledger_transactions WHERE kind = %s", kind)[0][0]


def assert_wallet_history_is_consistent(database_url: str, customer_id: str) -> None:
    """Every entry of the wallet, in order, leaves the previous balance plus its amount, never below zero."""
    rows = sql(
        database_url,
        "SELECT amount, balance_after FROM ledger_entries WHERE account_id = %s ORDER BY id",
        wallet(customer_id, CURRENCY).id,
    )
    balance = 0
    for amount, balance_after in rows:
        balance += amount
        assert balance_after == balance >= 0
    assert sql(database_url, "SELECT balance FROM accounts WHERE id = %s", wallet(customer_id, CURRENCY).id) == [
        (balance,)
    ]


def test_twenty_deliveries_of_one_debit_envelope_apply_it_once(cashier: Cashier, database_url: str) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    envelope = command_envelope(debit_command(uuid.uuid4(), CUSTOMER, 2_500))

    outcomes = all_at_once(lambda _: cashier.deliver(envelope), range(20))

    assert Counter(outcomes) == {Outcome.APPLIED: 1, Outcome.DUPLICATE: 19}
    assert [subject for subject, _ in cashier.replies_to(envelope)] == ["debit.succeeded"]
    assert ledger_count(database_url, "debit") == 1
    assert cashier.balance(CUSTOMER) == 7_500


def test_twenty_envelopes_of_one_debit_key_move_money_once_and_all_name_the_same_transaction(
    cashier: Cashier, database_url: str
) -> None:
    cashier.top_up(CUSTOMER, 10_000)
    booking_id = uuid.uuid4()
    envelopes = [command_envelope(debit_command(booking_id, CUSTOMER, 2_500)) for _ in range(20)]

    replies = all_at_once(lambda envelope: answered(cashier, envelope), envelopes)

    assert {subject for subject, _ in replies} == {"debit.succeeded"}
    assert len({payload["transaction_id"] for _, payload in replies}) == 1
    assert ledger_count(database_url, "debit") == 1
    assert cashier.balance(CUSTOMER) == 7_500
    assert cashier.booking(booking_id) == (2_500, 0)


def test_debits_asking_more_than_the_wallet_holds_never_overdraw_it(cashier: Cashier, database_url: str) -> None:
    start = 10_000
    cashier.top_up(CUSTOMER, start)
    amounts = {uuid.uuid4(): 400 + (n * 137) % 500 for n in range(30)}  # 30 bookings asking ~19,000 in all
    envelopes = {
        booking: command_envelope(debit_command(booking, CUSTOMER, amount)) for booking, amount in amounts.items()
    }

    replies = dict(zip(amounts, all_at_once(lambda b: answered(cashier, envelopes[b]), amounts), strict=True))

    end = cashier.balance(CUSTOMER)
    assert end is not None
    assert end >= 0
    succeeded = {b: p for b, (subject, p) in replies.items() if subject == "debit.succeeded"}
    declined = {b: p for b, (subject, p) in replies.items() if subject == "debit.declined"}
    assert len(succeeded) + len(declined) == 30
    assert succeeded
    assert declined
    paid = sum(payload["amount"]["amount_minor"] for payload in succeeded.values())
    assert paid == start - end <= start
    assert {payload["reason"] for payload in declined.values()} == {"insufficient_funds"}
    # The balance only fell, so a debit declined at any moment asked more than is left at the end.
    assert all(amounts[booking] > end for booking in declined)
    assert ledger_count(database_url, "debit") == len(succeeded)
    for booking in amounts:
        assert cashier.booking(booking) == ((amounts[booking], 0) if booking in succeeded else (0, 0))
    assert_wallet_history_is_consistent(database_url, CUSTOMER)


def test_refunds_racing_each_other_and_their_duplicates_never_give_back_more_than_the_debit(
    cashier: Cashier, database_url: str
) -> None:
    start, price = 10_000, 5_000
    cashier.top_up(CUSTOMER, start)
    booking_id = uuid.uuid4()
    cashier.debit(booking_id, CUSTOMER, price)
    distinct = [command_envelope(refund_command(booking_id, 1_500, f"reason_{n}")) for n in range(6)]
    duplicates = [command_envelope(refund_command(booking_id, 1_500, "reason_0")) for _ in range(4)]
    redelivered = [distinct[1]] * 4

    outcomes = all_at_once(cashier.deliver, distinct + duplicates + redelivered)

    assert outcomes.count(Outcome.DUPLICATE) == 4
    replies = {envelope.id: cashier.replies_to(envelope) for envelope in distinct + duplicates}
    assert all(len(reply) == 1 and reply[0][0] == "refund.succeeded" for reply in replies.values())
    given = [replies[envelope.id][0][1]["amount"]["amount_minor"] for envelope in distinct]
    assert sum(given) == price  # six refunds of 1,500 asked 9,000: only the 5,000 paid came back
    assert {replies[e.id][0][1]["transaction_id"] for e in duplicates} == {
        replies[distinct[0].id][0][1]["transaction_id"]
    }
    assert cashier.booking(booking_id) == (price, price)
    assert cashier.balance(CUSTOMER) == start
    refunds = sql(database_url, "SELECT coalesce(sum(amount), 0) FROM ledger_transactions WHERE kind = 'refund'")
    assert refunds == [(price,)]
    assert_wallet_history_is_consistent(database_url, CUSTOMER)


def test_top_ups_racing_debits_leave_the_sum_of_their_effects(cashier: Cashier, database_url: str) -> None:
    start = 3_000
    cashier.top_up(CUSTOMER, start)

    def work(n: int) -> Any:
        if n % 5 == 0:  # 6 top-ups of 1,000 among 24 debits of 700
            cashier.top_up(CUSTOMER, 1_000)
            return None
        return answered(cashier, command_envelope(debit_command(uuid.uuid4(), CUSTOMER, 700)))

    results = all_at_once(work, range(30))

    debits = [reply for reply in results if reply is not None]
    succeeded = sum(1 for subject, _ in debits if subject == "debit.succeeded")
    assert len(debits) == 24
    assert {subject for subject, _ in debits} <= {"debit.succeeded", "debit.declined"}
    assert ledger_count(database_url, "top_up") == 1 + 6
    assert ledger_count(database_url, "debit") == succeeded
    assert cashier.balance(CUSTOMER) == start + 6 * 1_000 - 700 * succeeded
    assert_wallet_history_is_consistent(database_url, CUSTOMER)


def test_a_cancel_racing_its_debit_gives_all_the_money_back_whichever_comes_first(
    cashier: Cashier, database_url: str
) -> None:
    start = 10_000
    cashier.top_up(CUSTOMER, start)
    bookings = [uuid.uuid4() for _ in range(10)]
    envelopes = [
        command_envelope(command)
        for booking in bookings
        for command in (refund_command(booking, None, "cancelled"), debit_command(booking, CUSTOMER, 500))
    ]

    all_at_once(cashier.deliver, envelopes)

    assert cashier.balance(CUSTOMER) == start
    refunds = outbox_payloads(database_url, "payments.evt.refund.succeeded")
    for booking in bookings:
        assert cashier.booking(booking) == (500, 500)
        given = [p["amount"]["amount_minor"] for p in refunds if p["booking_id"] == str(booking)]
        assert sum(given) == 500
    assert len(outbox_payloads(database_url, "payments.evt.debit.succeeded")) == 10
    assert_wallet_history_is_consistent(database_url, CUSTOMER)


def test_first_uses_of_new_accounts_racing_each_other_create_each_account_once(cashier: Cashier) -> None:
    customers = [f"cust-new-{n}" for n in range(10)]
    # Every customer's first top-up arrives twice at once, so wallets and the platform accounts are all created
    # under contention on every unique index of accounts.
    all_at_once(lambda customer: cashier.top_up(customer, 1_000), customers * 2)

    wallets = sql(cashier.database_url, "SELECT customer_id, balance FROM accounts WHERE kind = 'wallet'")
    assert sorted(wallets) == sorted((customer, 2_000) for customer in customers)
    assert sql(cashier.database_url, "SELECT kind FROM accounts WHERE kind <> 'wallet'") == [("top_up_source",)]
