"""Inventory's, bookings' and payments' databases on the session's PostgreSQL, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tripline.testing import truncate_every_table

from .ordinary_day import OrdinaryDay, ordinary_day
from .world import SERVICES, World


@pytest.fixture(scope="session")
def service_database_urls(provisioned: dict[str, str]) -> dict[str, str]:
    """The audited services' databases (the session's, shared with the cross-service tests)."""
    return {service: provisioned[service] for service in SERVICES}


@pytest.fixture
def world(service_database_urls: dict[str, str]) -> Iterator[World]:
    """Empty databases, and the builder that fills them."""
    for url in service_database_urls.values():
        truncate_every_table(url)
    world = World(service_database_urls)
    yield world
    world.close()


@pytest.fixture
def day(world: World) -> OrdinaryDay:
    """An ordinary, consistent day on the platform."""
    return ordinary_day(world)
