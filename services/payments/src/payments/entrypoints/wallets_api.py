"""``/v1/wallets``: a customer's own wallet and top-ups, and admins' views and credits."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from flask import Blueprint, Response, g
from pydantic import BaseModel, Field, StrictInt, StringConstraints

from payments.adapters.providers import ChargeDeclined, TopUpProvider
from payments.config import PaymentsSettings
from payments.domain.ledger import MAX_TOP_UP_MINOR, TransactionKind
from payments.service_layer import top_ups, wallets
from payments.service_layer.top_ups import TopUpRefusedMeanwhile
from payments.service_layer.wallets import KeyReusedElsewhere, NoWallet, Wallet, WalletLimitReached
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.http.idempotency import idempotent
from tripline.http.openapi import documented
from tripline.http.problems import (
    FieldError,
    Problem,
    Refusals,
    answer_refusals,
    bad_request,
    conflict,
    idempotency_key_reused,
    not_found,
)
from tripline.http.responses import Timestamp, answer, created
from tripline.http.validation import (
    ApiModel,
    Money,
    PageQuery,
    decode_cursor_as,
    encode_cursor,
    parse_body,
    parse_query,
)

UnitOfWorkFactory = wallets.UnitOfWorkFactory
TAGS = ("wallets",)
# Who a customer is to payments: the token's subject, as the contract bounds it.
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Amount(ApiModel):
    """Money coming into a wallet: a positive integer of minor units, at most 10,000,000,000."""

    amount_minor: Annotated[StrictInt, Field(ge=1, le=MAX_TOP_UP_MINOR, examples=[250_000])]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["INR"])]


class TopUpRequest(ApiModel):
    """How much to add to the caller's wallet through the payment provider."""

    amount: Amount


class CreditRequest(ApiModel):
    """A goodwill credit and why it is given."""

    amount: Amount
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class TransactionQuery(PageQuery):
    """A page of transactions, optionally of one kind."""

    kind: TransactionKind | None = None


class WalletView(ApiModel):
    """A wallet's balance."""

    customer_id: str
    balance: Money
    updated_at: Timestamp


class Transaction(ApiModel):
    """One movement of the wallet's money; ``reason`` (a credit's or refund's) extends the contract."""

    id: uuid.UUID
    kind: TransactionKind
    amount: Money
    booking_id: uuid.UUID | None
    created_at: Timestamp
    balance_after: Money
    reason: str | None


class TransactionPage(ApiModel):
    """Transactions, newest first."""

    items: list[Transaction]
    next_cursor: str | None


class _CursorPosition(BaseModel):
    before_entry: Annotated[int, Field(ge=1, le=2**63 - 1)]  # an entry id is a BIGINT


def wallets_blueprint(
    unit_of_work: UnitOfWorkFactory, settings: PaymentsSettings, provider: TopUpProvider
) -> Blueprint:
    """Every ``/v1/wallets`` route."""
    blueprint = Blueprint("wallets", __name__, url_prefix="/v1/wallets")
    answer_refusals(blueprint, REFUSALS)
    _add_own_wallet_routes(blueprint, unit_of_work, settings.platform_currency, provider)
    _add_admin_routes(blueprint, unit_of_work, settings.platform_currency)
    return blueprint


def _add_own_wallet_routes(
    blueprint: Blueprint, unit_of_work: UnitOfWorkFactory, currency: str, provider: TopUpProvider
) -> None:
    @blueprint.get("/me")
    @documented("The caller's wallet; a new customer has a zero wallet", responses={200: WalletView}, tags=TAGS)
    @requires_role(Role.CUSTOMER)
    def own_wallet() -> Response:
        return answer(_wallet(wallets.open_wallet(unit_of_work, current_principal().sub, currency)))

    @blueprint.post("/me/top-ups")
    @documented(
        "Add money to the caller's wallet through the payment provider",
        body=TopUpRequest,
        responses={201: Transaction, 402: None, 409: None},
        tags=TAGS,
        idempotency_key=True,
    )
    @requires_role(Role.CUSTOMER)
    @idempotent
    def top_up() -> Response:
        amount = _amount_in(parse_body(TopUpRequest).amount, currency)
        customer_id = current_principal().sub
        row = top_ups.top_up(unit_of_work, provider, customer_id, amount, currency, _key())
        return created(_transaction(row), f"/v1/wallets/me/transactions/{row['id']}")

    @blueprint.get("/me/transactions")
    @documented(
        "The caller's transactions, newest first", query=TransactionQuery, responses={200: TransactionPage}, tags=TAGS
    )
    @requires_role(Role.CUSTOMER)
    def own_transactions() -> Response:
        return _history(unit_of_work, current_principal().sub, currency)

    @blueprint.get("/me/transactions/<uuid:transaction_id>")
    @documented(
        "Extension to the v1 contract: one of the caller's transactions",
        responses={200: Transaction, 404: None},
        tags=TAGS,
    )
    @requires_role(Role.CUSTOMER)
    def own_transaction(transaction_id: uuid.UUID) -> Response:
        return _one_transaction(unit_of_work, current_principal().sub, currency, transaction_id)


def _add_admin_routes(blueprint: Blueprint, unit_of_work: UnitOfWorkFactory, currency: str) -> None:
    @blueprint.get("/<customer_id>")
    @documented("A customer's wallet (admin)", responses={200: WalletView, 400: None, 404: None}, tags=TAGS)
    @requires_role(Role.ADMIN)
    def customer_wallet(customer_id: str) -> Response:
        return answer(_wallet(wallets.find_wallet(unit_of_work, _customer(customer_id), currency)))

    @blueprint.get("/<customer_id>/transactions")
    @documented(
        "A customer's transactions, newest first (admin)",
        query=TransactionQuery,
        responses={200: TransactionPage, 400: None, 404: None},
        tags=TAGS,
    )
    @requires_role(Role.ADMIN)
    def customer_transactions(customer_id: str) -> Response:
        customer_id = _customer(customer_id)
        wallets.find_wallet(unit_of_work, customer_id, currency)
        return _history(unit_of_work, customer_id, currency)

    @blueprint.get("/<customer_id>/transactions/<uuid:transaction_id>")
    @documented(
        "Extension to the v1 contract: one of a customer's transactions (admin)",
        responses={200: Transaction, 400: None, 404: None},
        tags=TAGS,
    )
    @requires_role(Role.ADMIN)
    def customer_transaction(customer_id: str, transaction_id: uuid.UUID) -> Response:
        return _one_transaction(unit_of_work, _customer(customer_id), currency, transaction_id)

    @blueprint.post("/<customer_id>/credits")
    @documented(
        "Credit a customer's wallet from the platform, with the reason (admin)",
        body=CreditRequest,
        responses={201: Transaction, 409: None},
        tags=TAGS,
        idempotency_key=True,
    )
    @requires_role(Role.ADMIN)
    @idempotent
    def credit(customer_id: str) -> Response:
        customer_id = _customer(customer_id)
        request = parse_body(CreditRequest)
        amount = _amount_in(request.amount, currency)
        admin_id = current_principal().sub
        row = wallets.credit(unit_of_work, admin_id, customer_id, amount, currency, request.reason, _key())
        return created(_transaction(row), f"/v1/wallets/{quote(customer_id, safe='')}/transactions/{row['id']}")


# Reading and writing the contract's shapes ----------------------------------------------------------------------


def _history(unit_of_work: UnitOfWorkFactory, customer_id: str, currency: str) -> Response:
    query = parse_query(TransactionQuery)
    before = _position(query.cursor) if query.cursor is not None else None
    page = wallets.history(unit_of_work, customer_id, currency, before_entry=before, limit=query.limit, kind=query.kind)
    next_cursor = encode_cursor({"before_entry": page.items[-1]["entry_id"]}) if page.has_more else None
    return answer(TransactionPage(items=[_transaction(row) for row in page.items], next_cursor=next_cursor))


def _one_transaction(
    unit_of_work: UnitOfWorkFactory, customer_id: str, currency: str, transaction_id: uuid.UUID
) -> Response:
    row = wallets.transaction(unit_of_work, customer_id, currency, transaction_id)
    if row is None:
        raise not_found("transaction")
    return answer(_transaction(row))


def _amount_in(amount: Amount, currency: str) -> int:
    if amount.currency != currency:
        raise bad_request(
            "unsupported_currency",
            f"Only {currency} is accepted.",
            [FieldError("amount.currency", f"Currency must be {currency}")],
        )
    return amount.amount_minor


def _customer(customer_id: str) -> str:
    """A customer id from the path, bounded as token subjects are."""
    if len(customer_id) > 64 or not customer_id.isprintable():
        raise bad_request(
            "validation_failed",
            "The customer id is not one a token could carry.",
            [FieldError("customer_id", "must be 1 to 64 printable characters")],
        )
    return customer_id


def _key() -> str:
    """The request's ``Idempotency-Key``, which ``@idempotent`` has checked."""
    return str(g.idempotency_key)


def _position(cursor: str) -> int:
    return decode_cursor_as(_CursorPosition, cursor).before_entry


def _wallet(wallet: Wallet) -> WalletView:
    return WalletView(
        customer_id=wallet.customer_id,
        balance=Money(amount_minor=wallet.balance, currency=wallet.currency),
        updated_at=wallet.updated_at,
    )


def _transaction(row: Any) -> Transaction:
    currency = row["currency"]
    return Transaction.model_validate(
        {
            "id": row["id"],
            "kind": row["kind"],
            "amount": Money(amount_minor=row["amount"], currency=currency),
            "booking_id": row["booking_id"],
            "created_at": row["created_at"],
            "balance_after": Money(amount_minor=row["balance_after"], currency=currency),
            "reason": row["reason"],
        },
        strict=False,
    )


# Refusals -------------------------------------------------------------------------------------------------------

# Answered outside the replay cache (see answer_refusals): a full wallet or a declined card may be different on the
# next try under the same key.
REFUSALS: Refusals = {
    NoWallet: lambda _: not_found("wallet"),
    WalletLimitReached: lambda _: conflict(
        "wallet_limit_exceeded", "The wallet would hold more than a wallet may; nothing was charged."
    ),
    KeyReusedElsewhere: lambda _: idempotency_key_reused(),
    TopUpRefusedMeanwhile: lambda _: conflict(
        "top_up_refused", "Another try of this top-up was refused meanwhile; nothing was charged. Try again."
    ),
    ChargeDeclined: lambda error: Problem(402, "payment_declined", "Payment required", error.reason),
}
