"""``python -m payments.entrypoints.cli``: migrate, audit the ledger, seed demo money, dead-letter tools."""

import argparse
import json
import sys
from functools import partial

from payments import SERVICE
from payments.adapters.tables import plumbing
from payments.config import MIGRATIONS_DIR, settings_from_env
from payments.service_layer.audit import audit_ledger
from payments.service_layer.demo import seed_demo
from tripline.cli import ServiceCommand, run_service_cli
from tripline.db import make_engine, make_session_factory
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.settings import ServiceSettings


def audit(settings: ServiceSettings, _: argparse.Namespace) -> int:
    """Check the ledger's invariants; exit status 1 and the violations when one does not hold."""
    engine = make_engine(settings.database_url.get_secret_value(), application_name=f"{SERVICE}-audit")
    try:
        report = audit_ledger(OutboxUnitOfWork(make_session_factory(engine), plumbing.outbox, SERVICE))
    finally:
        engine.dispose()
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


def seed(settings: ServiceSettings, _: argparse.Namespace) -> int:
    """Top up the demo customer's wallet once."""
    engine = make_engine(settings.database_url.get_secret_value(), application_name=f"{SERVICE}-seed")
    try:
        unit_of_work = partial(OutboxUnitOfWork, make_session_factory(engine), plumbing.outbox, SERVICE)
        print(json.dumps({"payments_demo": seed_demo(unit_of_work, settings.platform_currency)}))
    finally:
        engine.dispose()
    return 0


COMMANDS = {
    "audit": ServiceCommand("check the ledger: sums, balances, refunds within debits (exit 1 on a violation)", audit),
    "seed": ServiceCommand("top up the demo customer's wallet if it was not done before", seed),
}

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env, commands=COMMANDS))
