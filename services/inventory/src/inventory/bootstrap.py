"""The one place that wires inventory's real adapters."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial

from flask import Flask

from inventory import SERVICE, VERSION
from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.fleet_api import fleet_blueprint
from inventory.entrypoints.hotels_api import hotels_blueprint
from inventory.entrypoints.suppliers_api import suppliers_blueprint
from inventory.service_layer.holds import confirm_hold, release_hold, release_lapsed_holds, reserve_inventory
from inventory.service_layer.probes import answer_probe
from inventory.service_layer.snapshot import announce_requested_snapshots, record_snapshot_request
from tripline.contracts.inventory import AnnounceSnapshot, ConfirmHold, ReleaseHold, ReserveInventory
from tripline.http.app import create_service_app
from tripline.messaging.contracts import Contract, ProbeRequested
from tripline.messaging.inbox import Handler
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.streams import ConsumerSpec, command_stream, event_stream
from tripline.worker import Subscription, WorkerDefinition, define_worker, every

COMMANDS = ConsumerSpec(durable="inventory-commands", stream="INVENTORY_CMD", subjects=("inventory.cmd.>",))


def build_app(settings: InventorySettings) -> Flask:
    """The web app with every inventory route."""
    app = create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )
    unit_of_work = partial(OutboxUnitOfWork, app.extensions["tripline"].session_factory, plumbing.outbox, SERVICE)
    for blueprint in (suppliers_blueprint, fleet_blueprint, hotels_blueprint):
        app.register_blueprint(blueprint(unit_of_work, settings))
    return app


def build_worker(settings: InventorySettings) -> WorkerDefinition:
    """The worker: relay, the command consumer, the hold sweeper and the snapshot announcer."""
    grace = timedelta(seconds=settings.hold_grace_seconds)
    handlers: dict[type[Contract], Handler[OutboxUnitOfWork]] = {
        ReserveInventory: reserve_inventory,
        ConfirmHold: partial(confirm_hold, grace=grace),
        ReleaseHold: release_hold,
        AnnounceSnapshot: record_snapshot_request,
        ProbeRequested: answer_probe,
    }
    worker = define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(command_stream(SERVICE), event_stream(SERVICE)),
        # One hold per transaction, as the lock order requires (docs/decisions/0005): commands are never handled
        # together.
        subscriptions=(Subscription(COMMANDS, handlers),),
    )
    sweeper = every(settings.hold_sweep_seconds, partial(release_lapsed_holds, worker.unit_of_work, grace))
    # A timer of its own: a snapshot of a large catalogue takes a while, and must not delay the sweeper.
    announcer = every(settings.hold_sweep_seconds, partial(announce_requested_snapshots, worker.unit_of_work))
    return replace(worker, timers=(*worker.timers, sweeper, announcer))
