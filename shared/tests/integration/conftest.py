"""Real PostgreSQL and NATS for the plumbing: a fresh database and clean streams for every test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from sqlalchemy import Column, Engine, Integer, Table, Text

from tripline.db import make_engine, make_session_factory, new_metadata
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)
# The observable effect of handling a message: one row per application.
effects = Table(
    "effects",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Text, nullable=False),
)
SOURCE = "testing"


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    return fresh_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, application_name="plumbing-tests")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def unit_of_work(engine: Engine):  # type: ignore[no-untyped-def]
    session_factory = make_session_factory(engine)
    return lambda: OutboxUnitOfWork(session_factory, plumbing.outbox, SOURCE)


@pytest_asyncio.fixture
async def nats_client(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name)
    yield client
    await client.drain()


async def eventually(condition, within: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async or sync condition until it is truthy, or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
