"""Fixtures for hold tests: the handlers on the session's database, and something to hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .. import catalog
from ..desk import TOMORROW, HoldDesk


@pytest.fixture
def desk(database_url: str) -> Iterator[HoldDesk]:
    desk = HoldDesk(database_url)
    yield desk
    desk.close()


@pytest.fixture
def schedule_id(database_url: str) -> uuid.UUID:
    return catalog.schedule(database_url, catalog.operator(database_url), seats=40)


@pytest.fixture
def room_type_id(database_url: str) -> uuid.UUID:
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url))
    catalog.nights(database_url, room_type_id, TOMORROW, count=10, rooms=3, rate_minor=400_000)
    return room_type_id
