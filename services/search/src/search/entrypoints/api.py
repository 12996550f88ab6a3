"""Gunicorn entry point: ``search.entrypoints.api:create_app()``."""

from flask import Flask

from search import bootstrap
from search.config import SearchSettings, settings_from_env


def create_app(settings: SearchSettings | None = None) -> Flask:
    """Build the search web app (no connection is opened here)."""
    return bootstrap.build_app(settings or settings_from_env())
