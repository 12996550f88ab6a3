"""Accounts, the double-entry ledger, booking payments, decided payment requests and top-ups.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        customer_id text,
        currency text NOT NULL,
        balance bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_accounts_kind CHECK (kind IN ('wallet', 'clearing', 'revenue', 'top_up_source')),
        CONSTRAINT ck_accounts_currency CHECK (currency ~ '^[A-Z]{3}$'),
        -- Only a wallet belongs to a customer and keeps a balance column; a platform account's balance is the
        -- sum of its entries, so no payment ever waits on a platform account's row.
        CONSTRAINT ck_accounts_wallet_owner CHECK ((kind = 'wallet') = (customer_id IS NOT NULL)),
        CONSTRAINT ck_accounts_wallet_balance CHECK ((kind = 'wallet') = (balance IS NOT NULL)),
        CONSTRAINT ck_accounts_balance_not_negative CHECK (balance >= 0),
        CONSTRAINT uq_accounts_id_currency UNIQUE (id, currency)
    )
    """,
    "CREATE UNIQUE INDEX uq_accounts_wallet ON accounts (customer_id, currency) WHERE kind = 'wallet'",
    "CREATE UNIQUE INDEX uq_accounts_platform ON accounts (kind, currency) WHERE kind <> 'wallet'",
    """
    CREATE TABLE ledger_transactions (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        scope text NOT NULL,
        idempotency_key text NOT NULL,
        booking_id uuid,
        amount bigint NOT NULL,
        currency text NOT NULL,
        reason text,
        provider_reference text,
        -- clock_timestamp, not now(): a posting waits for its wallet's lock, and a history in entry order must
        -- not go back in time.
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT ck_ledger_transactions_kind CHECK (kind IN ('top_up', 'debit', 'refund', 'credit')),
        CONSTRAINT ck_ledger_transactions_amount CHECK (amount > 0),
        CONSTRAINT ck_ledger_transactions_booking CHECK ((kind IN ('debit', 'refund')) = (booking_id IS NOT NULL)),
        -- One key, one movement of money, forever.
        CONSTRAINT uq_ledger_transactions_key UNIQUE (scope, idempotency_key)
    )
    """,
    "CREATE INDEX ix_ledger_transactions_booking ON ledger_transactions (booking_id) WHERE booking_id IS NOT NULL",
    # A booking is paid once, whatever the keys: the last word is the schema's.
    "CREATE UNIQUE INDEX uq_ledger_transactions_one_debit ON ledger_transactions (booking_id) WHERE kind = 'debit'",
    """
    CREATE TABLE ledger_entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id uuid NOT NULL REFERENCES ledger_transactions (id),
        account_id uuid NOT NULL,
        currency text NOT NULL,
        amount bigint NOT NULL,
        balance_after bigint,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT ck_ledger_entries_amount CHECK (amount <> 0),
        -- An entry is in its account's currency.
        CONSTRAINT fk_ledger_entries_account FOREIGN KEY (account_id, currency) REFERENCES accounts (id, currency)
    )
    """,
    "CREATE INDEX ix_ledger_entries_account ON ledger_entries (account_id, id)",
    "CREATE INDEX ix_ledger_entries_transaction ON ledger_entries (transaction_id)",
    # Double entry, checked at commit: a transaction has entries in its currency, they sum to zero, and what they
    # move is the transaction's amount.
    """
    CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        tx uuid;
        expected bigint;
        expected_currency text;
        moved bigint;
        unbalanced text;
    BEGIN
        IF TG_TABLE_NAME = 'ledger_entries' THEN
            tx := NEW.transaction_id;
        ELSE
            tx := NEW.id;
        END IF;
        SELECT t.amount, t.currency INTO expected, expected_currency FROM ledger_transactions t WHERE t.id = tx;
        IF EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = tx AND e.currency <> expected_currency) THEN
            RAISE EXCEPTION 'ledger transaction % has entries in another currency than %', tx, expected_currency
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) INTO moved
        FROM ledger_entries e WHERE e.transaction_id = tx;
        SELECT string_agg(s.currency || ' ' || s.total, ', ') INTO unbalanced FROM (
            SELECT e.currency, sum(e.amount) AS total FROM ledger_entries e
            WHERE e.transaction_id = tx
            GROUP BY e.currency HAVING sum(e.amount) <> 0
        ) s;
        IF unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'ledger transaction % does not balance: %', tx, unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
        IF moved <> expected THEN
            RAISE EXCEPTION 'ledger transaction % moves % but its entries move %', tx, expected, moved
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_transactions_balance AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances()
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances()
    """,
    # The ledger is evidence: once written, a transaction or entry can be neither changed nor removed.
    """
    CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only()
    """,
    """
    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only()
    """,
    """
    CREATE TABLE booking_payments (
        booking_id uuid PRIMARY KEY,
        customer_id text,
        currency text NOT NULL,
        debited bigint NOT NULL DEFAULT 0,
        refunded bigint NOT NULL DEFAULT 0,
        debit_transaction_id uuid REFERENCES ledger_transactions (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_booking_payments_amounts CHECK (debited >= 0 AND refunded >= 0),
        CONSTRAINT ck_booking_payments_refund_cap CHECK (refunded <= debited),
        CONSTRAINT ck_booking_payments_debit CHECK ((debit_transaction_id IS NULL) = (debited = 0))
    )
    """,
    """
    CREATE TABLE payment_requests (
        scope text NOT NULL,
        idempotency_key text NOT NULL,
        kind text NOT NULL,
        booking_id uuid NOT NULL,
        customer_id text,
        requested_amount bigint,
        currency text NOT NULL,
        reason text,
        outcome text NOT NULL,
        transaction_id uuid REFERENCES ledger_transactions (id),
        amount bigint NOT NULL DEFAULT 0,
        decided_at timestamptz NOT NULL DEFAULT now(),
        -- When a refund that waited for its debit was paid out.
        settled_at timestamptz,
        CONSTRAINT pk_payment_requests PRIMARY KEY (scope, idempotency_key),
        CONSTRAINT ck_payment_requests_kind CHECK (kind IN ('debit', 'refund')),
        CONSTRAINT ck_payment_requests_outcome CHECK (
            outcome IN ('debited', 'declined_insufficient_funds', 'declined_currency_mismatch', 'refunded',
                        'awaiting_debit')
        ),
        CONSTRAINT ck_payment_requests_amount CHECK (amount >= 0)
    )
    """,
    "CREATE INDEX ix_payment_requests_awaiting ON payment_requests (booking_id) WHERE outcome = 'awaiting_debit'",
    # A top-up is written down before the provider is asked to charge, so no charge can go unrecorded: one left
    # pending by a crash is finished by the worker.
    """
    CREATE TABLE top_ups (
        id uuid PRIMARY KEY,
        scope text NOT NULL,
        idempotency_key text NOT NULL,
        customer_id text NOT NULL,
        amount bigint NOT NULL,
        currency text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        -- Each try to charge has its own provider key: a voided or declined charge is never answered again.
        attempt integer NOT NULL DEFAULT 1,
        provider_reference text,
        failure text,
        transaction_id uuid REFERENCES ledger_transactions (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_top_ups_amount CHECK (amount > 0),
        CONSTRAINT ck_top_ups_status CHECK (status IN ('pending', 'succeeded', 'declined', 'voided')),
        CONSTRAINT ck_top_ups_succeeded CHECK ((status = 'succeeded') = (transaction_id IS NOT NULL)),
        CONSTRAINT uq_top_ups_key UNIQUE (scope, idempotency_key)
    )
    """,
    "CREATE INDEX ix_top_ups_pending ON top_ups (updated_at) WHERE status = 'pending'",
]

DOWNGRADE = [
    "DROP TABLE top_ups",
    "DROP TABLE payment_requests",
    "DROP TABLE booking_payments",
    "DROP TABLE ledger_entries",
    "DROP TABLE ledger_transactions",
    "DROP FUNCTION ledger_is_append_only()",
    "DROP FUNCTION ledger_transaction_balances()",
    "DROP TABLE accounts",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
