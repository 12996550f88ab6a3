"""``python -m inventory.entrypoints.cli``: migrate, seed demo supply, re-announce a snapshot, dead-letter tools."""

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from inventory import SERVICE
from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, settings_from_env
from inventory.service_layer.demo import seed_demo
from inventory.service_layer.snapshot import announce_everything
from tripline.cli import ServiceCommand, run_service_cli
from tripline.db import make_engine, make_session_factory
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.settings import ServiceSettings

T = TypeVar("T")


def snapshot(settings: ServiceSettings, _: argparse.Namespace) -> int:
    """Queue an event for every aggregate; the worker's relay publishes them."""
    counts = _with_unit_of_work(settings, "snapshot", announce_everything)
    print(json.dumps({"queued": counts}))
    return 0


def seed(settings: ServiceSettings, _: argparse.Namespace) -> int:
    """Create the demo supply that is missing (approved operator and owner, buses, departures, hotels, nights)."""
    counts = _with_unit_of_work(settings, "seed", partial(seed_demo, currency=settings.platform_currency))
    print(json.dumps({"inventory_demo": counts}))
    return 0


def _with_unit_of_work(
    settings: ServiceSettings, purpose: str, action: Callable[[Callable[[], OutboxUnitOfWork]], T]
) -> T:
    engine = make_engine(settings.database_url.get_secret_value(), application_name=f"{SERVICE}-{purpose}")
    try:
        return action(partial(OutboxUnitOfWork, make_session_factory(engine), plumbing.outbox, SERVICE))
    finally:
        engine.dispose()


COMMANDS = {
    "seed": ServiceCommand("create the demo operator, owner, buses, departures, hotels and nights if missing", seed),
    "snapshot": ServiceCommand("re-announce every operator, owner, schedule, hotel and night to search", snapshot),
}

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env, commands=COMMANDS))
