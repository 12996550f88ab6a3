"""The ledger audit: silent on a sound ledger, and naming every invariant broken behind the ledger's back.

The schema refuses each of these breaks as it happens, so the tests break the ledger the way a restore or a hand
correction would: as the database superuser, with triggers off (``session_replication_role = replica``), and on
a scratch database of their own when a CHECK constraint or a unique index has to go too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from payments.config import MIGRATIONS_DIR
from payments.domain import ledger as rules
from payments.service_layer import wallets
from payments.service_layer.audit import CHECKS, AuditReport, audit_ledger
from payments.service_layer.demo import DEMO_CUSTOMER, DEMO_TOP_UP_MINOR
from tripline.contracts.payments import DebitWallet, debit_key
from tripline.contracts.values import Money
from tripline.migrations import upgrade_to_head
from tripline.testing import plain_url, sql

from ..cashier import CURRENCY, Cashier

ASHA, RAVI = "asha", "ravi"


@dataclass(frozen=True)
class Activity:
    """What an ordinary day left in the ledger: the bookings, and the transaction a test may tamper with."""

    kept: uuid.UUID  # debited 3 000 by asha and kept
    refunded: uuid.UUID  # debited 4 000 by asha, refunded in two parts
    asha_top_up: uuid.UUID


def ordinary_activity(cashier: Cashier) -> Activity:
    """Top-ups (one retried), a credit, debits kept, declined and refunded, a debit in a foreign currency."""
    kept, refunded, declined, foreign = (uuid.uuid4() for _ in range(4))
    cashier.top_up(ASHA, 10_000, key="asha-first")
    cashier.top_up(ASHA, 10_000, key="asha-first")  # a retry finds the first top-up
    cashier.top_up(RAVI, 5_000)
    wallets.credit(cashier.unit_of_work, "ops", RAVI, 300, CURRENCY, "delayed bus", "goodwill-1")
    assert cashier.debit(refunded, ASHA, 4_000)[0] == "debit.succeeded"
    cashier.refund(refunded, 1_500, reason="seat_changed")
    cashier.refund(refunded)
    assert cashier.debit(declined, ASHA, 50_000)[0] == "debit.declined"
    assert cashier.send(_debit(foreign, RAVI, 100, currency="USD"))[0][0] == "debit.declined"
    assert cashier.debit(kept, ASHA, 3_000)[0] == "debit.succeeded"
    assert (cashier.balance(ASHA), cashier.balance(RAVI)) == (7_000, 5_300)
    (top_up,) = sql(
        cashier.database_url,
        "SELECT id FROM ledger_transactions WHERE kind = 'top_up' AND idempotency_key = 'asha-first'",
    )
    return Activity(kept=kept, refunded=refunded, asha_top_up=top_up[0])


def _debit(booking_id: uuid.UUID, customer_id: str, amount_minor: int, currency: str = CURRENCY) -> DebitWallet:
    return DebitWallet(
        booking_id=booking_id,
        customer_id=customer_id,
        amount=Money(amount_minor=amount_minor, currency=currency),
        idempotency_key=debit_key(booking_id),
    )


def audit(cashier: Cashier) -> AuditReport:
    return audit_ledger(cashier.unit_of_work())


def failures(report: AuditReport) -> dict[str, list[str]]:
    """The subjects found wrong, by check."""
    found: dict[str, list[str]] = {}
    for violation in report.violations:
        found.setdefault(violation.check, []).append(violation.subject)
    return found


def behind_the_ledgers_back(database_url: str, statement: str, *params: Any) -> None:
    """Change the database as a superuser restoring a backup could: no trigger fires, the change commits."""
    with psycopg.connect(plain_url(database_url)) as connection:
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute(statement, params)


def post_directly(database_url: str, posting: rules.Posting, booking_id: uuid.UUID) -> uuid.UUID:
    """Write a balanced booking transaction straight into the tables, wallet and booking totals kept in step.

    Only the checks of the application and the schema's CHECK constraints are skipped: the transaction balances,
    the wallet's balance and history follow its entries, and the booking's totals follow the ledger.
    """
    transaction_id = uuid.uuid4()
    wallet_leg = posting.wallet_leg
    with psycopg.connect(plain_url(database_url)) as connection:
        for leg in posting.legs:
            connection.execute(
                "INSERT INTO accounts (id, kind, customer_id, currency, balance) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (
                    leg.account.id,
                    leg.account.kind.value,
                    leg.account.customer_id,
                    leg.account.currency,
                    0 if leg.account.is_wallet else None,
                ),
            )
        (balance,) = connection.execute(  # type: ignore[misc]
            "UPDATE accounts SET balance = balance + %s WHERE id = %s RETURNING balance",
            (wallet_leg.amount, wallet_leg.account.id),
        ).fetchone()
        connection.execute(
            "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, booking_id, amount, currency)"
            " VALUES (%s, %s, 'restore', %s, %s, %s, %s)",
            (transaction_id, posting.kind.value, str(transaction_id), booking_id, posting.amount, posting.currency),
        )
        for leg in posting.legs:
            connection.execute(
                "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount, balance_after)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    transaction_id,
                    leg.account.id,
                    leg.account.currency,
                    leg.amount,
                    balance if leg is wallet_leg else None,
                ),
            )
        if posting.kind is rules.TransactionKind.DEBIT:
            connection.execute(
                "INSERT INTO booking_payments (booking_id, customer_id, currency, debited, debit_transaction_id)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (booking_id) DO UPDATE SET debited = booking_payments.debited + excluded.debited",
                (booking_id, wallet_leg.account.customer_id, posting.currency, posting.amount, transaction_id),
            )
        else:
            connection.execute(
                "UPDATE booking_payments SET refunded = refunded + %s WHERE booking_id = %s",
                (posting.amount, booking_id),
            )
    return transaction_id


def entries(database_url: str, transaction_id: uuid.UUID) -> dict[str, int]:
    """A transaction's entry ids by the kind of account they move."""
    rows = sql(
        database_url,
        "SELECT a.kind, e.id FROM ledger_entries e JOIN accounts a ON a.id = e.account_id WHERE e.transaction_id = %s",
        transaction_id,
    )
    return dict(rows)


@pytest.fixture
def scratch_cashier(fresh_database_url: str) -> Iterator[Cashier]:
    """A cashier on a migrated database of the test's own, whose constraints the test may drop."""
    upgrade_to_head(MIGRATIONS_DIR, fresh_database_url)
    cashier = Cashier(fresh_database_url)
    yield cashier
    cashier.close()


def allow_second_debits(database_url: str) -> None:
    """Drop the index that keeps a booking to one debit, as a restore that skipped it would leave the schema."""
    behind_the_ledgers_back(database_url, "DROP INDEX uq_ledger_transactions_one_debit")


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m payments.entrypoints.cli`` against ``database_url``."""
    env = os.environ | {"PAYMENTS_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "payments.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# A sound ledger ------------------------------------------------------------------------------------------------


def test_an_empty_ledger_passes_the_audit(cashier: Cashier) -> None:
    report = audit(cashier)

    assert report.passed
    assert report.violations == []
    assert report.lines()[-1] == "payments audit passed"


def test_a_day_of_top_ups_debits_declines_and_refunds_passes_every_check(cashier: Cashier) -> None:
    ordinary_activity(cashier)

    report = audit(cashier)

    assert report.passed, report.lines()
    lines = report.lines()
    assert lines == [f"ok   {check.name}: {check.rule}" for check in CHECKS] + ["payments audit passed"]


def test_a_refund_that_waited_for_its_debit_passes_every_check(cashier: Cashier) -> None:
    booking = uuid.uuid4()
    cashier.top_up(RAVI, 5_000)
    cashier.refund(booking)

    replies = cashier.send(_debit(booking, RAVI, 2_000))

    assert sorted(kind for kind, _ in replies) == ["debit.succeeded", "refund.succeeded"]
    assert cashier.balance(RAVI) == 5_000
    assert audit(cashier).passed


# Each invariant broken behind the ledger's back ----------------------------------------------------------------


def test_an_entry_changed_by_hand_leaves_its_transaction_and_the_ledger_unbalanced(cashier: Cashier) -> None:
    activity = ordinary_activity(cashier)
    source_entry = entries(cashier.database_url, activity.asha_top_up)["top_up_source"]
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE ledger_entries SET amount = amount + 100 WHERE id = %s", source_entry
    )

    report = audit(cashier)

    assert not report.passed
    assert failures(report) == {
        "transactions_balance": [str(activity.asha_top_up)],
        "ledger_sums_to_zero": [CURRENCY],
    }
    assert "entries sum to 100 INR" in {v.detail for v in report.violations}


def test_a_transaction_whose_amount_was_changed_no_longer_matches_what_its_entries_move(cashier: Cashier) -> None:
    activity = ordinary_activity(cashier)
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE ledger_transactions SET amount = 12000 WHERE id = %s", activity.asha_top_up
    )

    report = audit(cashier)

    assert failures(report) == {"transactions_move_their_amount": [str(activity.asha_top_up)]}
    assert report.violations[0].detail == "moves 12000, entries move 10000"


def test_a_transaction_left_without_entries_does_not_balance(cashier: Cashier) -> None:
    ordinary_activity(cashier)
    orphan = uuid.uuid4()
    behind_the_ledgers_back(
        cashier.database_url,
        "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, amount, currency)"
        " VALUES (%s, 'top_up', 'restore', 'lost-entries', 500, 'INR')",
        orphan,
    )

    report = audit(cashier)

    assert failures(report) == {"transactions_balance": [str(orphan)]}
    assert report.violations[0].detail == "entries sum to 0 INR"


def test_a_wallet_balance_set_by_hand_differs_from_its_entries(cashier: Cashier) -> None:
    ordinary_activity(cashier)
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE accounts SET balance = balance + 500 WHERE customer_id = %s", RAVI
    )

    report = audit(cashier)

    assert failures(report) == {"wallet_balance_is_its_entries": [f"{RAVI} ({CURRENCY})"]}
    assert report.violations[0].detail == "balance 5800, entries sum to 5300"


def test_a_wrong_balance_after_breaks_the_wallets_history(cashier: Cashier) -> None:
    activity = ordinary_activity(cashier)
    wallet_entry = entries(cashier.database_url, activity.asha_top_up)["wallet"]
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE ledger_entries SET balance_after = balance_after + 1 WHERE id = %s", wallet_entry
    )

    report = audit(cashier)

    assert failures(report) == {"wallet_history_is_consistent": [f"{ASHA} entry {wallet_entry}"]}
    assert report.violations[0].detail == "balance_after 10001, running sum 10000"


def test_booking_totals_changed_by_hand_no_longer_match_the_ledger(cashier: Cashier) -> None:
    activity = ordinary_activity(cashier)
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE booking_payments SET debited = debited + 100 WHERE booking_id = %s", activity.kept
    )

    report = audit(cashier)

    # The clearing account now holds less than the bookings claim to have paid, too.
    assert failures(report) == {
        "clearing_holds_what_bookings_paid": [CURRENCY],
        "booking_totals_match_ledger": [str(activity.kept)],
    }
    totals = next(v for v in report.violations if v.check == "booking_totals_match_ledger")
    assert totals.detail == "debited 3100 vs ledger 3000, refunded 0 vs ledger 0"


def test_a_booking_paid_in_the_ledger_without_its_payment_record_is_reported_with_the_ledgers_figures(
    cashier: Cashier,
) -> None:
    activity = ordinary_activity(cashier)
    behind_the_ledgers_back(cashier.database_url, "DELETE FROM booking_payments WHERE booking_id = %s", activity.kept)

    report = audit(cashier)

    assert failures(report) == {
        "clearing_holds_what_bookings_paid": [CURRENCY],
        "booking_totals_match_ledger": [str(activity.kept)],
    }
    totals = next(v for v in report.violations if v.check == "booking_totals_match_ledger")
    assert totals.detail == "debited no record vs ledger 3000, refunded no record vs ledger 0"


def test_a_second_debit_of_one_booking_is_reported_even_when_everything_else_adds_up(
    scratch_cashier: Cashier,
) -> None:
    activity = ordinary_activity(scratch_cashier)
    allow_second_debits(scratch_cashier.database_url)
    post_directly(scratch_cashier.database_url, rules.debit(ASHA, 1_000, CURRENCY), activity.kept)

    report = audit(scratch_cashier)

    assert failures(report) == {"one_debit_per_booking": [str(activity.kept)]}
    assert report.violations[0].detail == "2 debits"


def test_a_wallet_overdrawn_behind_the_ledgers_back_is_reported(scratch_cashier: Cashier) -> None:
    scratch_cashier.top_up(ASHA, 1_000)
    behind_the_ledgers_back(
        scratch_cashier.database_url, "ALTER TABLE accounts DROP CONSTRAINT ck_accounts_balance_not_negative"
    )
    post_directly(scratch_cashier.database_url, rules.debit(ASHA, 1_500, CURRENCY), uuid.uuid4())

    report = audit(scratch_cashier)

    assert failures(report) == {"no_negative_wallet": [f"{ASHA} ({CURRENCY})"]}
    assert report.violations[0].detail == "balance -500"


def test_a_booking_refunded_more_than_it_paid_is_reported(scratch_cashier: Cashier) -> None:
    booking = uuid.uuid4()
    scratch_cashier.top_up(ASHA, 5_000)
    scratch_cashier.debit(booking, ASHA, 2_000)
    scratch_cashier.refund(booking)
    behind_the_ledgers_back(
        scratch_cashier.database_url, "ALTER TABLE booking_payments DROP CONSTRAINT ck_booking_payments_refund_cap"
    )
    post_directly(scratch_cashier.database_url, rules.refund(ASHA, 700, CURRENCY), booking)

    report = audit(scratch_cashier)

    assert failures(report) == {"refunds_within_debits": [str(booking)]}
    assert report.violations[0].detail == "debited 2000, refunded 2700"


def test_every_broken_invariant_is_reported_at_once_under_its_check(scratch_cashier: Cashier) -> None:
    activity = ordinary_activity(scratch_cashier)
    database_url = scratch_cashier.database_url
    behind_the_ledgers_back(database_url, "UPDATE accounts SET balance = balance + 1 WHERE customer_id = %s", RAVI)
    allow_second_debits(database_url)
    post_directly(database_url, rules.debit(ASHA, 1_000, CURRENCY), activity.refunded)

    report = audit(scratch_cashier)

    assert set(failures(report)) == {"wallet_balance_is_its_entries", "one_debit_per_booking"}
    lines = report.lines()
    assert f"FAIL one_debit_per_booking: {CHECKS[-1].rule}" in lines
    assert f"       {activity.refunded}: 2 debits" in lines
    assert lines[-1] == "payments audit FAILED with 2 violation(s)"


# The command line ----------------------------------------------------------------------------------------------


def test_the_audit_command_passes_a_sound_ledger(cashier: Cashier) -> None:
    ordinary_activity(cashier)

    result = cli(cashier.database_url, "audit")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "payments audit passed"
    assert "FAIL" not in result.stdout


def test_the_audit_command_exits_1_and_names_the_broken_check_and_its_subject(cashier: Cashier) -> None:
    ordinary_activity(cashier)
    behind_the_ledgers_back(
        cashier.database_url, "UPDATE accounts SET balance = balance + 500 WHERE customer_id = %s", RAVI
    )

    result = cli(cashier.database_url, "audit")

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAIL wallet_balance_is_its_entries") for line in lines)
    assert f"       {RAVI} ({CURRENCY}): balance 5800, entries sum to 5300" in lines
    assert lines[-1] == "payments audit FAILED with 1 violation(s)"


def test_seeding_the_demo_twice_tops_the_demo_wallet_up_once(cashier: Cashier) -> None:
    first = cli(cashier.database_url, "seed")
    second = cli(cashier.database_url, "seed")

    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"payments_demo": {"demo_customer_balance_minor": DEMO_TOP_UP_MINOR}}
    assert cashier.balance(DEMO_CUSTOMER) == DEMO_TOP_UP_MINOR == 5_000_000
    assert sql(cashier.database_url, "SELECT kind, amount FROM ledger_transactions") == [("top_up", 5_000_000)]
    assert audit(cashier).passed


def test_a_debit_paid_into_revenue_instead_of_clearing_is_reported_as_unfit_for_its_kind(cashier: Cashier) -> None:
    activity = ordinary_activity(cashier)
    wrong_way = rules.Posting(
        rules.TransactionKind.DEBIT,
        700,
        (
            rules.Leg(rules.wallet(ASHA, CURRENCY), -700),
            rules.Leg(rules.platform(rules.AccountKind.REVENUE, CURRENCY), 700),
        ),
    )
    transaction_id = post_directly(cashier.database_url, wrong_way, uuid.uuid4())
    del activity

    report = audit(cashier)

    # The money also never reached clearing, which now holds less than the bookings paid.
    assert failures(report) == {
        "transactions_fit_their_kind": [str(transaction_id)],
        "clearing_holds_what_bookings_paid": [CURRENCY],
    }
    unfit = next(v for v in report.violations if v.check == "transactions_fit_their_kind")
    assert unfit.detail == "debit moves wallet -700, revenue 700"


def test_a_refund_of_a_booking_that_never_paid_is_reported_against_clearing(cashier: Cashier) -> None:
    ordinary_activity(cashier)
    never_paid = uuid.uuid4()
    post_directly(cashier.database_url, rules.refund(RAVI, 500, CURRENCY), never_paid)

    report = audit(cashier)

    # Clearing gave out money no booking had paid into it.
    assert failures(report) == {
        "clearing_holds_what_bookings_paid": [CURRENCY],
        "booking_totals_match_ledger": [str(never_paid)],
    }
    held = next(v for v in report.violations if v.check == "clearing_holds_what_bookings_paid")
    assert held.detail.startswith("clearing holds ")
