"""Gunicorn entry point: ``bookings.entrypoints.api:create_app()``."""

from flask import Flask

from bookings import bootstrap
from bookings.config import BookingsSettings, settings_from_env


def create_app(settings: BookingsSettings | None = None) -> Flask:
    """Build the bookings web app (no connection is opened here)."""
    return bootstrap.build_app(settings or settings_from_env())
