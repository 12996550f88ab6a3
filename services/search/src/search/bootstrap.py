"""The one place that wires search's real adapters."""

from __future__ import annotations

from flask import Flask

from search import SERVICE, VERSION
from search.adapters.tables import plumbing
from search.config import MIGRATIONS_DIR, SearchSettings
from search.entrypoints.search_api import search_blueprint
from search.service_layer import projection
from search.service_layer.rebuild import on_snapshot_announced
from tripline.contracts.inventory import (
    HotelUpserted,
    OperatorStatusChanged,
    OwnerStatusChanged,
    RoomNightsChanged,
    ScheduleUpserted,
    SeatsChanged,
    SnapshotAnnounced,
)
from tripline.db import make_read_session_factory
from tripline.http.app import create_service_app
from tripline.messaging.contracts import Contract
from tripline.messaging.inbox import Handler
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.streams import ConsumerSpec
from tripline.worker import Subscription, WorkerDefinition, define_worker

SUPPLY_EVENTS = ConsumerSpec(
    durable="search-inventory-supply",
    stream="INVENTORY_EVT",
    subjects=(
        "inventory.evt.operator.>",
        "inventory.evt.owner.>",
        "inventory.evt.schedule.>",
        "inventory.evt.seats.>",
        "inventory.evt.hotel.>",
        "inventory.evt.room_nights.>",
        "inventory.evt.snapshot.>",
    ),
)

PROJECTION: dict[type[Contract], Handler[OutboxUnitOfWork]] = {
    OperatorStatusChanged: projection.on_operator_status_changed,
    OwnerStatusChanged: projection.on_owner_status_changed,
    ScheduleUpserted: projection.on_schedule_upserted,
    SeatsChanged: projection.on_seats_changed,
    HotelUpserted: projection.on_hotel_upserted,
    RoomNightsChanged: projection.on_room_nights_changed,
    SnapshotAnnounced: on_snapshot_announced,
}


def build_app(settings: SearchSettings) -> Flask:
    """The web app with every search route."""
    app = create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )
    # Each search is one SELECT: it needs no transaction around it.
    app.register_blueprint(search_blueprint(make_read_session_factory(app.extensions["tripline"].engine)))
    return app


def build_worker(settings: SearchSettings) -> WorkerDefinition:
    """The worker: the read model's consumer of inventory's supply events, and the relay of rebuild requests."""
    return define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(),
        # Versioned upserts take no lock another handler waits on: events waiting together share a transaction.
        subscriptions=(Subscription(SUPPLY_EVENTS, PROJECTION, together=True),),
    )
