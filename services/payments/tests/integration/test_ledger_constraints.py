"""The schema itself keeps money honest: whatever code writes to the database, these writes are refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from payments.adapters.providers import SandboxProvider
from payments.domain.ledger import AccountKind, platform, wallet
from payments.service_layer.top_ups import top_up
from tripline.testing import plain_url, sql

from ..cashier import CURRENCY, Cashier

CUSTOMER = "cust-kiran"
WALLET = wallet(CUSTOMER, CURRENCY).id
SOURCE = platform(AccountKind.TOP_UP_SOURCE, CURRENCY).id


@pytest.fixture
def booking_id(cashier: Cashier) -> uuid.UUID:
    """A wallet topped up with 10,000 (one top-up transaction) that paid 4,000 for a booking."""
    cashier.top_up(CUSTOMER, 10_000, key="first-top-up")
    booking_id = uuid.uuid4()
    assert cashier.debit(booking_id, CUSTOMER, 4_000)[0] == "debit.succeeded"
    return booking_id


@pytest.fixture
def connection(database_url: str, booking_id: uuid.UUID) -> Iterator[psycopg.Connection]:
    """A connection in a transaction of its own, as any code writing to the database has."""
    with psycopg.connect(plain_url(database_url)) as connection:
        yield connection


def post_by_hand(
    connection: psycopg.Connection,
    amount: int,
    legs: list[tuple[uuid.UUID, int]],
    *,
    currency: str = CURRENCY,
    entry_currency: str | None = None,
) -> uuid.UUID:
    """Write a top-up transaction of ``amount`` and one entry per (account, amount) leg, without committing.

    The entries are in the transaction's currency unless ``entry_currency`` says otherwise.
    """
    transaction_id = uuid.uuid4()
    connection.execute(
        "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, amount, currency)"
        " VALUES (%s, 'top_up', 'tests', %s, %s, %s)",
        (transaction_id, transaction_id.hex, amount, currency),
    )
    for account_id, leg in legs:
        connection.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount) VALUES (%s, %s, %s, %s)",
            (transaction_id, account_id, entry_currency or currency, leg),
        )
    return transaction_id


LEDGER = "SELECT * FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id ORDER BY e.id"


def stored(database_url: str, transaction_id: uuid.UUID) -> bool:
    return bool(sql(database_url, "SELECT 1 FROM ledger_transactions WHERE id = %s", transaction_id))


def test_a_balanced_transaction_moving_its_amount_is_accepted(
    connection: psycopg.Connection, database_url: str
) -> None:
    transaction_id = post_by_hand(connection, 100, [(SOURCE, -100), (WALLET, 100)])
    connection.commit()

    assert stored(database_url, transaction_id)


def test_a_wallet_balance_below_zero_is_refused(connection: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        connection.execute("UPDATE accounts SET balance = -1 WHERE id = %s", (WALLET,))

    assert refused.value.diag.constraint_name == "ck_accounts_balance_not_negative"


def test_a_booking_refunded_more_than_it_paid_is_refused(connection: psycopg.Connection, booking_id: uuid.UUID) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        connection.execute("UPDATE booking_payments SET refunded = debited + 1 WHERE booking_id = %s", (booking_id,))

    assert refused.value.diag.constraint_name == "ck_booking_payments_refund_cap"


@pytest.mark.parametrize(
    ("amount", "legs", "complaint"),
    [
        (100, [(SOURCE, -100), (WALLET, 90)], "does not balance"),
        (100, [(SOURCE, -50), (WALLET, 50)], "moves 100 but its entries move 50"),
        (100, [], "moves 100 but its entries move 0"),
    ],
    ids=["entries_not_summing_to_zero", "entries_moving_another_amount", "no_entries"],
)
def test_a_transaction_whose_entries_do_not_move_its_amount_is_refused_at_commit(
    connection: psycopg.Connection,
    database_url: str,
    amount: int,
    legs: list[tuple[uuid.UUID, int]],
    complaint: str,
) -> None:
    transaction_id = post_by_hand(connection, amount, legs)  # accepted until the commit checks it

    with pytest.raises(errors.CheckViolation, match=complaint):
        connection.commit()

    assert not stored(database_url, transaction_id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET amount = amount + 1",
        "DELETE FROM ledger_transactions WHERE kind = 'top_up'",
        "UPDATE ledger_entries SET balance_after = NULL",
        "DELETE FROM ledger_entries",
    ],
)
def test_ledger_rows_can_be_neither_changed_nor_removed(
    connection: psycopg.Connection, database_url: str, statement: str
) -> None:
    before = sql(database_url, LEDGER)

    with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
        connection.execute(statement)

    assert sql(database_url, LEDGER) == (before)


def test_a_second_transaction_under_the_same_scope_and_key_is_refused(connection: psycopg.Connection) -> None:
    [(scope,)] = connection.execute(
        "SELECT scope FROM ledger_transactions WHERE idempotency_key = 'first-top-up'"
    ).fetchall()

    with pytest.raises(errors.UniqueViolation) as refused:
        connection.execute(
            "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, amount, currency)"
            " VALUES (%s, 'top_up', %s, 'first-top-up', 100, %s)",
            (uuid.uuid4(), scope, CURRENCY),
        )

    assert refused.value.diag.constraint_name == "uq_ledger_transactions_key"


def test_an_entry_in_another_currency_than_its_account_is_refused(connection: psycopg.Connection) -> None:
    with pytest.raises(errors.ForeignKeyViolation) as refused:
        post_by_hand(connection, 100, [(SOURCE, -100), (WALLET, 100)], currency="USD")

    assert refused.value.diag.constraint_name == "fk_ledger_entries_account"


def test_a_second_debit_of_a_booking_is_refused_whatever_its_key(
    connection: psycopg.Connection, database_url: str, booking_id: uuid.UUID
) -> None:
    with pytest.raises(errors.UniqueViolation) as refused:
        connection.execute(
            "INSERT INTO ledger_transactions (id, kind, scope, idempotency_key, booking_id, amount, currency)"
            " VALUES (%s, 'debit', 'bookings', %s, %s, 100, %s)",
            (uuid.uuid4(), f"booking:{booking_id}:debit:2", booking_id, CURRENCY),
        )

    assert refused.value.diag.constraint_name == "uq_ledger_transactions_one_debit"
    assert sql(database_url, "SELECT count(*) FROM ledger_transactions WHERE booking_id = %s", booking_id) == [(1,)]


def test_entries_in_another_currency_than_their_transaction_are_refused_at_commit(
    cashier: Cashier, connection: psycopg.Connection, database_url: str
) -> None:
    """Balanced USD entries under an INR transaction: every account exists in USD, only the currency is wrong."""
    top_up(cashier.unit_of_work, SandboxProvider(), CUSTOMER, 500, "USD", "dollars")  # USD accounts in use
    usd_source, usd_wallet = platform(AccountKind.TOP_UP_SOURCE, "USD").id, wallet(CUSTOMER, "USD").id
    transaction_id = post_by_hand(
        connection, 100, [(usd_source, -100), (usd_wallet, 100)], currency=CURRENCY, entry_currency="USD"
    )

    with pytest.raises(errors.CheckViolation, match=f"has entries in another currency than {CURRENCY}"):
        connection.commit()

    assert not stored(database_url, transaction_id)
