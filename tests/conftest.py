"""The platform's services against the session's PostgreSQL and NATS, each test starting clean."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from tripline.testing import truncate_every_table

from .platform import Platform, on_jetstream


@pytest.fixture
def platform(provisioned: dict[str, str], nats_url: str, tmp_path: Path) -> Iterator[Platform]:
    for url in provisioned.values():
        truncate_every_table(url)
    on_jetstream(nats_url, _delete_streams)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TRIPLINE_FAILPOINTS")}
    env |= {f"{service.upper()}_DATABASE_URL": url for service, url in provisioned.items()}
    # A crashed worker's unacknowledged deliveries come back after the ack wait: short here, 30 s by default.
    env |= {"NATS_URL": nats_url, "OUTBOX_RELAY_POLL_SECONDS": "0.2", "NATS_ACK_WAIT_SECONDS": "2", "LOG_LEVEL": "info"}
    platform = Platform(env=env, database_urls=provisioned, log_dir=tmp_path)
    yield platform
    platform.stop_all()


async def _delete_streams(js: JetStreamContext) -> None:
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name)
