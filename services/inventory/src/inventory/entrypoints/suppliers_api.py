"""Placeholder until the suppliers routes land."""

from collections.abc import Callable

from flask import Blueprint

from inventory.config import InventorySettings
from tripline.messaging.outbox import OutboxUnitOfWork


def suppliers_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork], settings: InventorySettings) -> Blueprint:
    """The suppliers routes."""
    return Blueprint("suppliers", __name__)
