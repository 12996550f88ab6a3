"""The one place that wires inventory's real adapters."""

from __future__ import annotations

from flask import Flask

from inventory import SERVICE, VERSION
from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.service_layer.probes import answer_probe
from tripline.http.app import create_service_app
from tripline.messaging.contracts import ProbeRequested
from tripline.messaging.streams import ConsumerSpec, command_stream, event_stream
from tripline.worker import Subscription, WorkerDefinition, define_worker

COMMANDS = ConsumerSpec(durable="inventory-commands", stream="INVENTORY_CMD", subjects=("inventory.cmd.>",))


def build_app(settings: InventorySettings) -> Flask:
    """The web app with every inventory route."""
    return create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )


def build_worker(settings: InventorySettings) -> WorkerDefinition:
    """The worker: relay, command consumer and timers."""
    return define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(command_stream(SERVICE), event_stream(SERVICE)),
        subscriptions=(Subscription(COMMANDS, {ProbeRequested: answer_probe}),),
    )
