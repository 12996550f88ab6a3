"""The platform's services against the session's PostgreSQL and NATS, each test starting clean."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from nats.js import JetStreamContext

from devstack.provision import provision_service_databases
from tripline.migrations import upgrade_to_head

from .platform import SERVICES, Platform, on_jetstream


def _migrations_dir(service: str) -> Path:
    module = __import__(f"{service}.config", fromlist=["MIGRATIONS_DIR"])
    return Path(module.MIGRATIONS_DIR)


@pytest.fixture(scope="session")
def provisioned(postgres_admin_url: str, nats_url: str) -> dict[str, str]:
    urls = provision_service_databases(postgres_admin_url)
    for service in SERVICES:
        upgrade_to_head(_migrations_dir(service), urls[service])
    return urls


@pytest.fixture
def platform(provisioned: dict[str, str], nats_url: str, tmp_path: Path) -> Iterator[Platform]:
    _truncate_all(provisioned)
    on_jetstream(nats_url, _delete_streams)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TRIPLINE_FAILPOINTS")}
    env |= {f"{service.upper()}_DATABASE_URL": url for service, url in provisioned.items()}
    # A crashed worker's unacknowledged deliveries come back after the ack wait: short here, 30 s by default.
    env |= {"NATS_URL": nats_url, "OUTBOX_RELAY_POLL_SECONDS": "0.2", "NATS_ACK_WAIT_SECONDS": "2", "LOG_LEVEL": "info"}
    platform = Platform(env=env, database_urls=provisioned, log_dir=tmp_path)
    yield platform
    platform.stop_all()


def _truncate_all(urls: dict[str, str]) -> None:
    for url in urls.values():
        with psycopg.connect(url, autocommit=True) as connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ]
            if tables:
                connection.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


async def _delete_streams(js: JetStreamContext) -> None:
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name)
