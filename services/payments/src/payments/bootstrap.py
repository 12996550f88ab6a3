"""The one place that wires payments' real adapters."""

from __future__ import annotations

from flask import Flask

from payments import SERVICE, VERSION
from payments.adapters.tables import plumbing
from payments.config import MIGRATIONS_DIR, PaymentsSettings
from tripline.http.app import create_service_app
from tripline.messaging.streams import command_stream, event_stream
from tripline.worker import WorkerDefinition, define_worker


def build_app(settings: PaymentsSettings) -> Flask:
    """The web app with every payments route."""
    return create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )


def build_worker(settings: PaymentsSettings) -> WorkerDefinition:
    """The worker: relay and, as payments grows, its command consumer and timers."""
    return define_worker(
        SERVICE,
        settings.database_url.get_secret_value(),
        plumbing,
        owned_streams=(command_stream(SERVICE), event_stream(SERVICE)),
    )
