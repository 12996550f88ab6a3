"""The platform's services against the session's PostgreSQL and NATS, each test starting clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .platform import Platform, clean_platform


@pytest.fixture
def platform(provisioned: dict[str, str], nats_url: str, tmp_path: Path) -> Iterator[Platform]:
    platform = clean_platform(provisioned, nats_url, tmp_path)
    yield platform
    platform.stop_all()
