"""The one place that wires bookings' real adapters."""

from __future__ import annotations

from functools import partial

from flask import Flask

from bookings import SERVICE, VERSION
from bookings.adapters.tables import plumbing
from bookings.config import MIGRATIONS_DIR, BookingsSettings
from bookings.entrypoints.admin_api import admin_blueprint
from bookings.service_layer.probes import record_probe_answer
from tripline.http.app import create_service_app
from tripline.messaging.contracts import ProbeAnswered
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.streams import ConsumerSpec, event_stream
from tripline.worker import Subscription, WorkerDefinition, define_worker

INVENTORY_EVENTS = ConsumerSpec(
    durable="bookings-inventory-events", stream="INVENTORY_EVT", subjects=("inventory.evt.probe.answered",)
)


def build_app(settings: BookingsSettings) -> Flask:
    """The web app with every bookings route."""
    app = create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )
    session_factory = app.extensions["tripline"].session_factory
    app.register_blueprint(admin_blueprint(partial(OutboxUnitOfWork, session_factory, plumbing.outbox, SERVICE)))
    return app


def build_worker(settings: BookingsSettings) -> WorkerDefinition:
    """The worker: relay, the consumer of inventory's replies, and timers."""
    return define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(event_stream(SERVICE),),
        subscriptions=(Subscription(INVENTORY_EVENTS, {ProbeAnswered: record_probe_answer}),),
    )
