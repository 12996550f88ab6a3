"""The one place that wires search's real adapters."""

from __future__ import annotations

from flask import Flask

from search import SERVICE, VERSION
from search.adapters.tables import plumbing
from search.config import MIGRATIONS_DIR, SearchSettings
from tripline.http.app import create_service_app
from tripline.worker import WorkerDefinition, define_worker


def build_app(settings: SearchSettings) -> Flask:
    """The web app with every search route."""
    return create_service_app(
        name=SERVICE, version=VERSION, settings=settings, tables=plumbing, migrations_dir=MIGRATIONS_DIR
    )


def build_worker(settings: SearchSettings) -> WorkerDefinition:
    """The worker: relay and, as search grows, its projections of inventory events. Search owns no stream."""
    return define_worker(SERVICE, settings.database_url.get_secret_value(), plumbing, owned_streams=())
