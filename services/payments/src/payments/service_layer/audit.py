"""The ledger's invariants, checked over the whole database: what ``payments audit`` reports.

The schema already refuses most violations as they happen; the audit proves, after the fact, that none slipped
past (a trigger disabled during a restore, a hand-made correction, a bug in a migration). Each check is one
read-only query returning the offending rows, run in one repeatable-read snapshot so they agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from tripline.db import UnitOfWork


@dataclass(frozen=True)
class Check:
    """One invariant and the query that finds rows breaking it (each row: what, then the figures)."""

    name: str
    rule: str
    query: str


CHECKS = (
    Check(
        "transactions_balance",
        "every ledger transaction has entries summing to zero in each currency",
        """
        SELECT t.id::text, 'entries sum to ' || coalesce(sum(e.amount), 0) || ' ' || t.currency
        FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
        GROUP BY t.id, t.currency
        HAVING count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
            OR count(DISTINCT e.currency) <> 1 OR min(e.currency) <> t.currency
        """,
    ),
    Check(
        "transactions_move_their_amount",
        "the entries of a transaction move exactly its amount",
        """
        SELECT t.id::text,
               'moves ' || t.amount || ', entries move ' || coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0)
        FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
        GROUP BY t.id, t.amount
        HAVING coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount
        """,
    ),
    Check(
        "transactions_fit_their_kind",
        "every transaction moves money between the wallet and the platform account its kind names, the right way",
        """
        SELECT t.id::text, t.kind || ' moves ' || string_agg(a.kind || ' ' || e.amount, ', ' ORDER BY e.id)
        FROM ledger_transactions t
        JOIN ledger_entries e ON e.transaction_id = t.id
        JOIN accounts a ON a.id = e.account_id
        GROUP BY t.id, t.kind
        HAVING count(*) <> 2
            OR count(*) FILTER (
                WHERE a.kind = 'wallet' AND sign(e.amount) = CASE t.kind WHEN 'debit' THEN -1 ELSE 1 END
            ) <> 1
            OR count(*) FILTER (
                WHERE a.kind = CASE t.kind WHEN 'top_up' THEN 'top_up_source' WHEN 'credit' THEN 'revenue'
                                           ELSE 'clearing' END
            ) <> 1
        """,
    ),
    Check(
        "clearing_holds_what_bookings_paid",
        "the clearing account holds exactly what bookings paid and did not get back",
        """
        SELECT c.currency, 'clearing holds ' || c.held || ', bookings kept ' || coalesce(b.kept, 0)
        FROM (
            SELECT a.currency, coalesce(sum(e.amount), 0) AS held
            FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
            WHERE a.kind = 'clearing' GROUP BY a.currency
        ) c
        LEFT JOIN (SELECT currency, sum(debited - refunded) AS kept FROM booking_payments GROUP BY currency) b
            ON b.currency = c.currency
        WHERE c.held <> coalesce(b.kept, 0)
        """,
    ),
    Check(
        "ledger_sums_to_zero",
        "all entries of the ledger sum to zero in each currency",
        """
        SELECT currency, 'all entries sum to ' || sum(amount)
        FROM ledger_entries GROUP BY currency HAVING sum(amount) <> 0
        """,
    ),
    Check(
        "wallet_balance_is_its_entries",
        "each wallet's balance equals the sum of its entries",
        """
        SELECT a.customer_id || ' (' || a.currency || ')',
               'balance ' || a.balance || ', entries sum to ' || coalesce(sum(e.amount), 0)
        FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
        WHERE a.kind = 'wallet'
        GROUP BY a.id
        HAVING a.balance <> coalesce(sum(e.amount), 0)
        """,
    ),
    Check(
        "wallet_history_is_consistent",
        "each wallet entry's balance_after is the running sum of the wallet's entries",
        """
        SELECT customer_id || ' entry ' || id,
               'balance_after ' || coalesce(balance_after::text, 'missing') || ', running sum ' || running
        FROM (
            SELECT a.customer_id, e.id, e.balance_after,
                   sum(e.amount) OVER (PARTITION BY e.account_id ORDER BY e.id) AS running
            FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
            WHERE a.kind = 'wallet'
        ) w
        WHERE balance_after IS DISTINCT FROM running
        """,
    ),
    Check(
        "no_negative_wallet",
        "no wallet holds less than zero",
        "SELECT customer_id || ' (' || currency || ')', 'balance ' || balance"
        " FROM accounts WHERE kind = 'wallet' AND balance < 0",
    ),
    Check(
        "refunds_within_debits",
        "no booking is refunded more than it paid",
        "SELECT booking_id::text, 'debited ' || debited || ', refunded ' || refunded"
        " FROM booking_payments WHERE refunded > debited",
    ),
    Check(
        "booking_totals_match_ledger",
        "each booking's debited and refunded totals equal its ledger transactions",
        """
        SELECT coalesce(p.booking_id, l.booking_id)::text,
               'debited ' || coalesce(p.debited::text, 'no record') || ' vs ledger ' || coalesce(l.debits, 0)
               || ', refunded ' || coalesce(p.refunded::text, 'no record') || ' vs ledger ' || coalesce(l.refunds, 0)
        FROM booking_payments p
        FULL JOIN (
            SELECT booking_id,
                   sum(amount) FILTER (WHERE kind = 'debit') AS debits,
                   sum(amount) FILTER (WHERE kind = 'refund') AS refunds
            FROM ledger_transactions WHERE booking_id IS NOT NULL GROUP BY booking_id
        ) l ON l.booking_id = p.booking_id
        WHERE p.booking_id IS NULL
           OR coalesce(l.debits, 0) <> p.debited OR coalesce(l.refunds, 0) <> p.refunded
        """,
    ),
    Check(
        "one_debit_per_booking",
        "no booking is debited more than once",
        "SELECT booking_id::text, count(*) || ' debits' FROM ledger_transactions"
        " WHERE kind = 'debit' GROUP BY booking_id HAVING count(*) > 1",
    ),
)


@dataclass(frozen=True)
class Violation:
    """One row breaking one invariant."""

    check: str
    subject: str
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """Every check run and every violation found."""

    checks: tuple[Check, ...]
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        """The report as text: one line per check, each violation under its check."""
        lines = []
        for check in self.checks:
            found = [v for v in self.violations if v.check == check.name]
            lines.append(f"{'FAIL' if found else 'ok  '} {check.name}: {check.rule}")
            lines.extend(f"       {v.subject}: {v.detail}" for v in found)
        verdict = "passed" if self.passed else f"FAILED with {len(self.violations)} violation(s)"
        lines.append(f"payments audit {verdict}")
        return lines


# Enough to show what is wrong without flooding the terminal when everything is.
MAX_VIOLATIONS_PER_CHECK = 50


def audit_ledger(unit_of_work: UnitOfWork) -> AuditReport:
    """Run every check on one consistent snapshot of the database."""
    with unit_of_work as uow:
        uow.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        violations = [v for check in CHECKS for v in _violations(uow.session, check)]
    return AuditReport(CHECKS, violations)


def _violations(session: Session, check: Check) -> list[Violation]:
    rows = session.execute(text(f"{check.query} LIMIT {MAX_VIOLATIONS_PER_CHECK}")).all()
    return [Violation(check.name, str(subject), str(detail)) for subject, detail in rows]
