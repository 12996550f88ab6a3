"""Gunicorn entry point: ``payments.entrypoints.api:create_app()``."""

from flask import Flask

from payments import bootstrap
from payments.config import PaymentsSettings, settings_from_env


def create_app(settings: PaymentsSettings | None = None) -> Flask:
    """Build the payments web app (no connection is opened here)."""
    return bootstrap.build_app(settings or settings_from_env())
