"""Placeholder until the hotels routes land."""

from collections.abc import Callable

from flask import Blueprint

from inventory.config import InventorySettings
from tripline.messaging.outbox import OutboxUnitOfWork


def hotels_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork], settings: InventorySettings) -> Blueprint:
    """The hotels routes."""
    return Blueprint("hotels", __name__)
