"""The one place that wires bookings' real adapters."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial

from flask import Flask

from bookings import SERVICE, VERSION
from bookings.adapters.booking_watch import BookingWatch
from bookings.adapters.tables import plumbing
from bookings.config import MIGRATIONS_DIR, BookingsSettings
from bookings.entrypoints.admin_api import admin_blueprint
from bookings.entrypoints.bookings_api import bookings_blueprint
from bookings.service_layer import replies
from bookings.service_layer.probes import record_probe_answer
from bookings.service_layer.saga import SagaRules
from bookings.service_layer.timers import complete_finished_bookings, expire_unpaid_bookings, measure_stuck_bookings
from tripline.contracts.inventory import (
    HoldConfirmed,
    HoldConfirmRejected,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    HoldReserved,
)
from tripline.contracts.payments import DebitDeclined, DebitSucceeded, RefundSucceeded
from tripline.db import libpq_url, make_read_session_factory
from tripline.http.app import create_service_app
from tripline.messaging.contracts import Contract, ProbeAnswered
from tripline.messaging.inbox import Handler
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.streams import ConsumerSpec, event_stream
from tripline.worker import Subscription, WorkerDefinition, define_worker, every

INVENTORY_EVENTS = ConsumerSpec(
    durable="bookings-inventory-events",
    stream="INVENTORY_EVT",
    subjects=("inventory.evt.hold.>", "inventory.evt.probe.answered"),
)
PAYMENTS_EVENTS = ConsumerSpec(durable="bookings-payments-events", stream="PAYMENTS_EVT", subjects=("payments.evt.>",))


def saga_rules(settings: BookingsSettings) -> SagaRules:
    """The saga's timings and refund policy, as this deployment configures them."""
    return SagaRules(
        hold_ttl=timedelta(seconds=settings.hold_ttl_seconds),
        step_timeout=timedelta(seconds=settings.step_timeout_seconds),
        refund_policy=settings.refund_policy,
    )


def build_app(settings: BookingsSettings) -> Flask:
    """The web app with every bookings route."""
    app = create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )
    unit_of_work = partial(OutboxUnitOfWork, app.extensions["tripline"].session_factory, plumbing.outbox, SERVICE)
    watch = BookingWatch(libpq_url(app.extensions["tripline"].engine))
    app.extensions["tripline"].on_close.append(watch.stop)
    reads = make_read_session_factory(app.extensions["tripline"].engine)
    app.register_blueprint(
        bookings_blueprint(unit_of_work, reads, saga_rules(settings), settings.platform_currency, watch)
    )
    app.register_blueprint(admin_blueprint(unit_of_work))
    return app


def saga_handlers(rules: SagaRules) -> tuple[dict[type[Contract], Handler[OutboxUnitOfWork]], ...]:
    """The handlers of inventory's replies, then of payments' replies."""
    inventory: dict[type[Contract], Handler[OutboxUnitOfWork]] = {
        HoldReserved: partial(replies.on_hold_reserved, rules=rules),
        HoldRejected: partial(replies.on_hold_rejected, rules=rules),
        HoldConfirmed: partial(replies.on_hold_confirmed, rules=rules),
        HoldConfirmRejected: partial(replies.on_hold_confirm_rejected, rules=rules),
        HoldReleased: partial(replies.on_hold_released, rules=rules),
        HoldExpired: partial(replies.on_hold_expired, rules=rules),
        ProbeAnswered: record_probe_answer,
    }
    payments: dict[type[Contract], Handler[OutboxUnitOfWork]] = {
        DebitSucceeded: partial(replies.on_debit_succeeded, rules=rules),
        DebitDeclined: partial(replies.on_debit_declined, rules=rules),
        RefundSucceeded: partial(replies.on_refund_succeeded, rules=rules),
    }
    return inventory, payments


def build_worker(settings: BookingsSettings) -> WorkerDefinition:
    """The worker: relay, the consumers of inventory's and payments' replies, and the saga's timers."""
    rules = saga_rules(settings)
    inventory, payments = saga_handlers(rules)
    worker = define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(event_stream(SERVICE),),
        # Each reply locks one booking: replies waiting together share a transaction.
        subscriptions=(
            Subscription(INVENTORY_EVENTS, inventory, together=True),
            Subscription(PAYMENTS_EVENTS, payments, together=True),
        ),
    )
    timers = (
        every(settings.timer_seconds, partial(expire_unpaid_bookings, worker.unit_of_work, rules)),
        every(settings.timer_seconds, partial(complete_finished_bookings, worker.unit_of_work, rules)),
        every(settings.timer_seconds, partial(measure_stuck_bookings, worker.unit_of_work)),
    )
    return replace(worker, timers=(*worker.timers, *timers))
