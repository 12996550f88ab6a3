"""Demo money for the local stack: the demo customer's wallet, topped up once through the sandbox."""

from __future__ import annotations

from payments.adapters.providers import SandboxProvider
from payments.service_layer import top_ups, wallets

DEMO_CUSTOMER = "demo-customer"
DEMO_TOP_UP_MINOR = 5_000_000  # 50,000.00 in a currency of two decimals: enough for a few trips and stays
# The ledger keeps a key forever, so seeding again finds this top-up instead of adding another.
DEMO_KEY = "demo-seed:welcome-top-up"


def seed_demo(unit_of_work: wallets.UnitOfWorkFactory, currency: str) -> dict[str, int]:
    """Top up the demo customer's wallet unless it was done before; the resulting balance."""
    top_ups.top_up(unit_of_work, SandboxProvider(), DEMO_CUSTOMER, DEMO_TOP_UP_MINOR, currency, DEMO_KEY)
    return {"demo_customer_balance_minor": wallets.open_wallet(unit_of_work, DEMO_CUSTOMER, currency).balance}
