"""The one place that wires payments' real adapters."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from flask import Flask

from payments import SERVICE, VERSION
from payments.adapters.providers import SandboxProvider, TopUpProvider
from payments.adapters.tables import plumbing
from payments.config import MIGRATIONS_DIR, PaymentsSettings
from payments.entrypoints.wallets_api import wallets_blueprint
from payments.service_layer.booking_charges import debit_wallet, refund_payment
from payments.service_layer.top_ups import finish_stale_top_ups
from tripline.contracts.payments import DebitWallet, RefundPayment
from tripline.http.app import create_service_app
from tripline.messaging.contracts import Contract
from tripline.messaging.inbox import Handler
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.streams import ConsumerSpec, command_stream, event_stream
from tripline.worker import Subscription, WorkerDefinition, define_worker, every

COMMANDS = ConsumerSpec(durable="payments-commands", stream="PAYMENTS_CMD", subjects=("payments.cmd.>",))


def build_app(settings: PaymentsSettings, provider: TopUpProvider | None = None) -> Flask:
    """The web app with every payments route; top-ups go through ``provider`` (the sandbox by default)."""
    app = create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )
    unit_of_work = partial(OutboxUnitOfWork, app.extensions["tripline"].session_factory, plumbing.outbox, SERVICE)
    app.register_blueprint(wallets_blueprint(unit_of_work, settings, provider or SandboxProvider()))
    return app


def build_worker(settings: PaymentsSettings, provider: TopUpProvider | None = None) -> WorkerDefinition:
    """The worker: relay, the debit and refund command consumer, and the finisher of top-ups left pending."""
    currency = settings.platform_currency
    handlers: dict[type[Contract], Handler[OutboxUnitOfWork]] = {
        DebitWallet: partial(debit_wallet, currency=currency),
        RefundPayment: partial(refund_payment, currency=currency),
    }
    worker = define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(command_stream(SERVICE), event_stream(SERVICE)),
        # Each command locks one wallet: commands waiting together share a transaction.
        subscriptions=(Subscription(COMMANDS, handlers, together=True),),
    )
    finish = partial(
        finish_stale_top_ups, worker.unit_of_work, provider or SandboxProvider(), settings.top_up_recovery_seconds
    )
    return replace(worker, timers=(*worker.timers, every(settings.top_up_recovery_check_seconds, finish)))
