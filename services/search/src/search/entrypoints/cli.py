"""``python -m search.entrypoints.cli``: migrate, rebuild the read model, and inspect or replay dead letters."""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial

from psycopg.errors import LockNotAvailable
from sqlalchemy.exc import OperationalError

from search import SERVICE
from search.adapters.tables import plumbing
from search.config import MIGRATIONS_DIR, settings_from_env
from search.service_layer.rebuild import Rebuild, rebuild_of, start_rebuild
from tripline.cli import ServiceCommand, run_service_cli
from tripline.db import make_engine, make_session_factory
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.settings import ServiceSettings

POLL_SECONDS = 0.5


def rebuild(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Empty the read model, ask inventory for a snapshot, and (unless --no-wait) wait for all of it to arrive."""
    engine = make_engine(settings.database_url.get_secret_value(), application_name=f"{SERVICE}-rebuild")
    try:
        session_factory = make_session_factory(engine)
        try:
            request_id = start_rebuild(partial(OutboxUnitOfWork, session_factory, plumbing.outbox, SERVICE))
        except OperationalError as error:
            if not isinstance(error.orig, LockNotAvailable):
                raise
            print(f"{SERVICE}: the read model is busy (a long search or handling holds it); try again", file=sys.stderr)
            return 1
        print(json.dumps({"rebuild": str(request_id), "status": "requested"}), flush=True)
        if args.no_wait:
            return 0
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with session_factory() as session:
                done = rebuild_of(session, request_id)
            if done is not None and done.completed_at is not None:
                print(json.dumps(_completed(done)))
                return 0
            time.sleep(POLL_SECONDS)
    finally:
        engine.dispose()
    print(
        f"{SERVICE}: rebuild {request_id} not complete after {args.timeout:g} s; it goes on once search's and"
        " inventory's workers run",
        file=sys.stderr,
    )
    return 1


def _rebuild_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return once the snapshot is requested")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the snapshot (900)")


def _completed(done: Rebuild) -> dict[str, object]:
    return {"rebuild": str(done.request_id), "status": "completed", "announced": done.counts}


COMMANDS = {
    "rebuild": ServiceCommand(
        "drop the read model and rebuild it from inventory's snapshot of every aggregate",
        rebuild,
        options=_rebuild_options,
    ),
}

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env, commands=COMMANDS))
