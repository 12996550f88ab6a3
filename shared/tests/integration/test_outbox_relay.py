"""The relay publishes committed outbox rows exactly as written, in order, and marks them only after acks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client
from sqlalchemy import Engine, func, select, update

from tripline.db import make_async_engine
from tripline.messaging.relay import OutboxRelay
from tripline.messaging.streams import StreamSpec, ensure_stream
from tripline.settings import MessagingSettings

from .conftest import eventually, plumbing
from .messages import STREAM, SUBJECTS, SomethingHappened

SETTINGS = MessagingSettings(relay_poll_seconds=0.2)


async def _stream(client: Client) -> None:
    from nats.js.api import RetentionPolicy

    await ensure_stream(client.jetstream(), StreamSpec(STREAM, SUBJECTS, RetentionPolicy.LIMITS), SETTINGS)


def _queue(unit_of_work, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    with unit_of_work() as uow:
        for n in range(count):
            ids.append(str(uow.outbox.add(SomethingHappened(n=n), correlation_id="c-1").id))
        uow.commit()
    return ids


def _unpublished(engine: Engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(plumbing.outbox).where(plumbing.outbox.c.published_at.is_(None))
        return int(connection.execute(query).scalar_one())


async def test_relay_publishes_rows_in_order_with_their_id_as_msg_id(
    nats_client: Client, engine: Engine, database_url: str, unit_of_work
) -> None:
    await _stream(nats_client)
    ids = _queue(unit_of_work, 5)
    async_engine = make_async_engine(database_url, application_name="relay-test")
    relay = OutboxRelay(async_engine, plumbing.outbox, nats_client.jetstream(), SETTINGS)

    assert await relay.relay_pending() == 5

    subscription = await nats_client.jetstream().pull_subscribe(SUBJECTS[0], stream=STREAM)
    messages = await subscription.fetch(5, timeout=2)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == ids
    assert [json.loads(m.data)["payload"]["n"] for m in messages] == [0, 1, 2, 3, 4]
    assert json.loads(messages[0].data)["correlation_id"] == "c-1"
    assert _unpublished(engine) == 0
    await async_engine.dispose()


async def test_a_row_nats_refuses_is_postponed_without_holding_back_the_rows_behind_it(
    nats_client: Client, engine: Engine, database_url: str, unit_of_work
) -> None:
    await _stream(nats_client)
    with unit_of_work() as uow:
        uow.outbox.add(SomethingHappened(n=0))
        oversized = uow.outbox.add(SomethingHappened(n=1))
        uow.outbox.add(SomethingHappened(n=2))
        uow.commit()
    with engine.begin() as connection:  # larger than NATS's 1 MB message limit
        connection.execute(
            update(plumbing.outbox)
            .where(plumbing.outbox.c.id == oversized.id)
            .values(envelope={"padding": "x" * 1_200_000})
        )
    async_engine = make_async_engine(database_url, application_name="relay-test")
    relay = OutboxRelay(async_engine, plumbing.outbox, nats_client.jetstream(), SETTINGS)

    assert await relay.relay_pending() == 2
    assert await relay.relay_pending() == 0  # the refused row waits for its next attempt

    with engine.connect() as connection:
        row = connection.execute(select(plumbing.outbox).where(plumbing.outbox.c.published_at.is_(None))).one()
    assert row.id == oversized.id
    assert row.publish_attempts == 1
    assert "MaxPayload" in row.last_error
    assert row.next_attempt_at is not None
    await async_engine.dispose()


async def test_rows_without_a_stream_wait_and_go_out_once_it_exists(
    nats_client: Client, engine: Engine, database_url: str, unit_of_work
) -> None:
    _queue(unit_of_work, 2)
    async_engine = make_async_engine(database_url, application_name="relay-test")
    relay = OutboxRelay(async_engine, plumbing.outbox, nats_client.jetstream(), SETTINGS)

    assert await relay.relay_pending() == 0
    assert _unpublished(engine) == 2

    await _stream(nats_client)
    with engine.begin() as connection:  # as if their retry delay had passed
        connection.execute(update(plumbing.outbox).values(next_attempt_at=None))
    assert await relay.relay_pending() == 2
    assert _unpublished(engine) == 0
    await async_engine.dispose()


async def test_running_relay_is_woken_by_new_rows(
    nats_client: Client, engine: Engine, database_url: str, unit_of_work
) -> None:
    await _stream(nats_client)
    async_engine = make_async_engine(database_url, application_name="relay-test")
    relay = OutboxRelay(async_engine, plumbing.outbox, nats_client.jetstream(), SETTINGS)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    _queue(unit_of_work, 3)

    await eventually(lambda: _unpublished(engine) == 0)
    stop.set()
    await running
    info = await nats_client.jetstream().stream_info(STREAM)
    assert info.state.messages == 3
    await async_engine.dispose()


class HeldJetStream:
    """The real JetStream, with every publish held until ``release`` is set: a relay caught mid-batch."""

    def __init__(self, js: Any):
        self._js = js
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()

    async def publish_async(self, *args: Any, **kwargs: Any) -> Any:
        self.publishing.set()
        await self.release.wait()
        return await self._js.publish_async(*args, **kwargs)


async def test_a_batch_being_published_is_claimed_by_no_other_relay(
    nats_client: Client, engine: Engine, database_url: str, unit_of_work
) -> None:
    await _stream(nats_client)
    _queue(unit_of_work, 3)
    async_engine = make_async_engine(database_url, application_name="relay-test")
    held = HeldJetStream(nats_client.jetstream())
    first = asyncio.create_task(OutboxRelay(async_engine, plumbing.outbox, held, SETTINGS).relay_pending())  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(held.publishing.wait(), timeout=10)

        second = OutboxRelay(async_engine, plumbing.outbox, nats_client.jetstream(), SETTINGS)
        assert await second.relay_pending() == 0  # every row is the first relay's until it has marked them

        held.release.set()
        assert await first == 3
    finally:
        held.release.set()
        await asyncio.gather(first, return_exceptions=True)
        await async_engine.dispose()
    info = await nats_client.jetstream().stream_info(STREAM)
    assert info.state.messages == 3
    assert _unpublished(engine) == 0
