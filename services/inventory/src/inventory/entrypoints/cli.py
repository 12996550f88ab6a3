"""``python -m inventory.entrypoints.cli``: migrate, re-announce a snapshot to search, and dead-letter tools."""

import json
import sys
from functools import partial

from inventory import SERVICE
from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, settings_from_env
from inventory.service_layer.snapshot import announce_everything
from tripline.cli import ServiceCommand, run_service_cli
from tripline.db import make_engine, make_session_factory
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.settings import ServiceSettings


def snapshot(settings: ServiceSettings) -> int:
    """Queue an event for every aggregate; the worker's relay publishes them."""
    engine = make_engine(settings.database_url.get_secret_value(), application_name=f"{SERVICE}-snapshot")
    try:
        counts = announce_everything(partial(OutboxUnitOfWork, make_session_factory(engine), plumbing.outbox, SERVICE))
    finally:
        engine.dispose()
    print(json.dumps({"queued": counts}))
    return 0


COMMANDS = {
    "snapshot": ServiceCommand("re-announce every operator, owner, schedule, hotel and night to search", snapshot)
}

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env, commands=COMMANDS))
