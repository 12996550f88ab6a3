"""Fixtures for command tests: payments' handlers on the session's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..cashier import Cashier


@pytest.fixture
def cashier(database_url: str) -> Iterator[Cashier]:
    cashier = Cashier(database_url)
    yield cashier
    cashier.close()
