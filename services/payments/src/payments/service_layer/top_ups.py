"""Top-ups: money from the customer's card into the wallet, through the payment provider, once per key.

A top-up is written down (``pending``) before the provider is asked to charge. The provider's idempotency key is
the top-up's id and attempt: unique across callers, the same for every retry of one attempt, new for a retry of
a declined or voided one (the provider would otherwise answer with the decline or the voided charge). The ledger
posting and the top-up's success commit together. A top-up left pending by a crash between the charge and that
commit is finished by the worker: it charges again under the same provider key (the provider answers with the
charge it already made) and posts once. No charge can go unrecorded, and none is recorded twice.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from sqlalchemy import RowMapping

from payments.adapters import ledger, top_up_records
from payments.adapters.providers import Charge, ChargeDeclined, ChargeRequest, TopUpProvider
from payments.domain import ledger as rules
from payments.service_layer.wallets import KeyReusedElsewhere, WalletLimitReached
from tripline.db import UnitOfWork

UnitOfWorkFactory = Callable[[], UnitOfWork]
_TOP_UP_NAMESPACE = uuid.UUID("c3d1f0a8-5b2e-4f7a-9e61-0b8d2a4c7e35")
_log = structlog.get_logger("payments.top_ups")


@dataclass(frozen=True)
class PendingTopUp:
    """A top-up written down and not yet in the wallet."""

    id: uuid.UUID
    scope: str
    key: str
    customer_id: str
    amount: int
    currency: str
    attempt: int = 1

    @classmethod
    def of(cls, row: RowMapping) -> PendingTopUp:
        fields = ("id", "scope", "idempotency_key", "customer_id", "amount", "currency", "attempt")
        return cls(*(row[field] for field in fields))

    @property
    def provider_key(self) -> str:
        """What the provider is told: one key per attempt of this top-up."""
        return f"{self.id}:{self.attempt}"


class TopUpRefusedMeanwhile(Exception):
    """Another try of the same top-up was refused while this one charged; this charge is given back."""


def top_up(
    unit_of_work: UnitOfWorkFactory, provider: TopUpProvider, customer_id: str, amount: int, currency: str, key: str
) -> RowMapping:
    """Charge the customer and put the money in the wallet: the wallet's transaction, the same for every retry."""
    scope = f"top_up:{customer_id}"  # apart from credits, which an account may send under the same keys
    asked = PendingTopUp(uuid.uuid5(_TOP_UP_NAMESPACE, f"{scope}\n{key}"), scope, key, customer_id, amount, currency)
    pending = _write_down(unit_of_work, asked)
    if not isinstance(pending, PendingTopUp):
        return pending
    return _charge_and_post(unit_of_work, provider, pending)


def finish_stale_top_ups(unit_of_work: UnitOfWorkFactory, provider: TopUpProvider, older_than_seconds: float) -> int:
    """Finish every top-up pending for longer than ``older_than_seconds`` (its request died); how many were."""
    finished = 0
    while (pending := _claim_stale(unit_of_work, older_than_seconds)) is not None:
        # A decline or a full wallet is recorded on the top-up: finished, without money.
        with contextlib.suppress(ChargeDeclined, WalletLimitReached, TopUpRefusedMeanwhile):
            _charge_and_post(unit_of_work, provider, pending)
        finished += 1
    return finished


def _write_down(unit_of_work: UnitOfWorkFactory, pending: PendingTopUp) -> PendingTopUp | RowMapping:
    """The top-up written down as pending (a new attempt after a refusal); the wallet's transaction instead if this
    key already put the money in."""
    wallet = rules.wallet(pending.customer_id, pending.currency)
    with unit_of_work() as uow:
        row = top_up_records.write_down(
            uow.session,
            id=pending.id,
            scope=pending.scope,
            idempotency_key=pending.key,
            customer_id=pending.customer_id,
            amount=pending.amount,
            currency=pending.currency,
        )
        if (row["customer_id"], row["amount"], row["currency"]) != (
            pending.customer_id,
            pending.amount,
            pending.currency,
        ):
            raise KeyReusedElsewhere()
        if row["status"] == "succeeded":
            transaction = ledger.wallet_transaction(uow.session, wallet, row["transaction_id"])
            assert transaction is not None
            return transaction
        _ensure_room(uow, wallet, pending.amount)
        attempt = row["attempt"]
        if row["status"] != "pending":  # declined or voided: try again, as a new attempt
            attempt += 1
            top_up_records.record(uow.session, pending.id, "pending", failure=None, attempt=attempt)
        uow.commit()
    return replace(pending, attempt=attempt)


def _ensure_room(uow: UnitOfWork, wallet: rules.Account, amount: int) -> None:
    # Checked before charging, so a wallet at its limit is refused without touching the customer's card.
    current = ledger.wallet(uow.session, wallet)
    if current is not None and current["balance"] + amount > rules.MAX_WALLET_BALANCE_MINOR:
        raise WalletLimitReached()


def _charge_and_post(unit_of_work: UnitOfWorkFactory, provider: TopUpProvider, pending: PendingTopUp) -> RowMapping:
    request = ChargeRequest(pending.customer_id, pending.amount, pending.currency, pending.provider_key)
    try:
        charge = provider.charge(request)
    except ChargeDeclined as declined:
        _record_failure(unit_of_work, pending, "declined", declined.reason)
        raise
    try:
        return _post(unit_of_work, pending, charge)
    except (WalletLimitReached, TopUpRefusedMeanwhile):
        provider.void(charge)
        raise


def _post(unit_of_work: UnitOfWorkFactory, pending: PendingTopUp, charge: Charge) -> RowMapping:
    """Put the charged money in the wallet and mark the top-up succeeded, in one transaction."""
    wallet = rules.wallet(pending.customer_id, pending.currency)
    with unit_of_work() as uow:
        row = top_up_records.lock(uow.session, pending.id)
        if row["status"] == "succeeded":  # the worker and a late request both got here: one posted
            transaction = ledger.wallet_transaction(uow.session, wallet, row["transaction_id"])
            assert transaction is not None
            return transaction
        if (row["status"], row["attempt"]) != ("pending", pending.attempt):
            raise TopUpRefusedMeanwhile()
        reference = ledger.Reference(pending.scope, pending.key, provider_reference=charge.reference)
        try:
            transaction_id = ledger.post(
                uow.session, rules.top_up(pending.customer_id, pending.amount, pending.currency), reference
            )
        except ledger.BalanceLimitReached:
            # Another top-up filled the wallet since this one was written down: the charge is given back.
            top_up_records.record(
                uow.session, pending.id, "voided", failure="wallet limit", provider_reference=charge.reference
            )
            uow.commit()
            _log.warning("top_up_voided", top_up_id=str(pending.id), provider_reference=charge.reference)
            raise WalletLimitReached() from None
        top_up_records.record(
            uow.session, pending.id, "succeeded", transaction_id=transaction_id, provider_reference=charge.reference
        )
        transaction = ledger.wallet_transaction(uow.session, wallet, transaction_id)
        uow.commit()
    assert transaction is not None
    return transaction


def _record_failure(unit_of_work: UnitOfWorkFactory, pending: PendingTopUp, status: str, failure: str) -> None:
    with unit_of_work() as uow:
        row = top_up_records.lock(uow.session, pending.id)
        if (row["status"], row["attempt"]) == ("pending", pending.attempt):
            top_up_records.record(uow.session, pending.id, status, failure=failure)
            uow.commit()


def _claim_stale(unit_of_work: UnitOfWorkFactory, older_than_seconds: float) -> PendingTopUp | None:
    """The oldest stale top-up, touched so another worker leaves it alone while this one finishes it."""
    with unit_of_work() as uow:
        row = top_up_records.next_stale(uow.session, older_than_seconds)
        if row is None:
            return None
        top_up_records.record(uow.session, row["id"], "pending")
        uow.commit()
    return PendingTopUp.of(row)
