"""Payment providers that put money into wallets: an interface a real gateway plugs into, and the sandbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

_SANDBOX_NAMESPACE = uuid.UUID("9b0a3c57-1e4d-4f8b-a2c6-7d5e0f1b3a98")


@dataclass(frozen=True)
class ChargeRequest:
    """Take ``amount_minor`` from the customer's card or bank, once per ``idempotency_key``."""

    customer_id: str
    amount_minor: int
    currency: str
    idempotency_key: str


@dataclass(frozen=True)
class Charge:
    """A charge the provider made; ``reference`` is the provider's own id for it."""

    reference: str


class ChargeDeclined(Exception):
    """The provider refused the charge; ``reason`` is safe to show the customer."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TopUpProvider(Protocol):
    """What payments needs from a payment gateway.

    Both calls must be idempotent on the request's key, as real gateways are: a retried top-up charges once.
    """

    def charge(self, request: ChargeRequest) -> Charge:
        """Charge the customer, or raise ``ChargeDeclined``."""
        ...

    def void(self, charge: Charge) -> None:
        """Give back a charge the ledger could not take (the wallet would pass its limit)."""
        ...


class SandboxProvider:
    """Development's provider: every charge succeeds, under a reference derived from its key."""

    def charge(self, request: ChargeRequest) -> Charge:
        key = f"{request.customer_id}:{request.idempotency_key}"
        return Charge(reference=f"sandbox_{uuid.uuid5(_SANDBOX_NAMESPACE, key).hex}")

    def void(self, charge: Charge) -> None:
        """Nothing was really taken, so nothing is given back."""
