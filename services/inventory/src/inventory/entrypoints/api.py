"""Gunicorn entry point: ``inventory.entrypoints.api:create_app()``."""

from flask import Flask

from inventory import bootstrap
from inventory.config import InventorySettings, settings_from_env


def create_app(settings: InventorySettings | None = None) -> Flask:
    """Build the inventory web app (no connection is opened here)."""
    return bootstrap.build_app(settings or settings_from_env())
