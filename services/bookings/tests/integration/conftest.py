"""Fixtures for saga tests: bookings' handlers on the session's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..saga_desk import SagaDesk


@pytest.fixture
def desk(database_url: str) -> Iterator[SagaDesk]:
    desk = SagaDesk(database_url)
    yield desk
    desk.close()
