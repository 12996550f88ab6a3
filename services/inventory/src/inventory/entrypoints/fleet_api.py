"""Placeholder until the fleet routes land."""

from collections.abc import Callable

from flask import Blueprint

from inventory.config import InventorySettings
from tripline.messaging.outbox import OutboxUnitOfWork


def fleet_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork], settings: InventorySettings) -> Blueprint:
    """The fleet routes."""
    return Blueprint("fleet", __name__)
