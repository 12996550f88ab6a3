"""Fixtures for projection and query tests: search's read model on the session's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..supply import ReadModel


@pytest.fixture
def read_model(database_url: str) -> Iterator[ReadModel]:
    model = ReadModel(database_url)
    yield model
    model.close()
