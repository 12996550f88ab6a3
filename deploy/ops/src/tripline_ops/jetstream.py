"""Reading JetStream from synchronous code: whether every consumer has caught up, for tests and the benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import nats
from nats.js import JetStreamContext

T = TypeVar("T")


def on_jetstream(nats_url: str, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run one JetStream call from synchronous code, on a connection of its own."""

    async def run() -> T:
        client = await nats.connect(nats_url)
        try:
            return await action(client.jetstream())
        finally:
            await client.drain()

    return asyncio.run(run())


async def stream_marks(js: JetStreamContext) -> tuple[tuple[Any, ...], list[tuple[str, int, int]]]:
    """Each stream's last sequence, and each consumer's pending and unacknowledged deliveries."""
    streams, consumers = [], []
    for stream in await js.streams_info():
        streams.append((stream.config.name, stream.state.last_seq))
        for consumer in await js.consumers_info(str(stream.config.name)):
            consumers.append((str(consumer.name), int(consumer.num_pending or 0), int(consumer.num_ack_pending or 0)))
    return tuple(sorted(streams)), consumers


def caught_up(consumers: Iterable[tuple[str, int, int]]) -> bool:
    """Whether every consumer of ``stream_marks`` has nothing pending and nothing unacknowledged."""
    return all(pending == 0 and unacknowledged == 0 for _, pending, unacknowledged in consumers)


def quiet_twice(look: Callable[[], tuple[bool, object]]) -> Callable[[], bool]:
    """A condition for polling: true once ``look`` (idle or not, and marks such as ``stream_marks``' streams) finds
    everything idle with the same marks two looks running, so a handler that commits just after one look is seen
    in the next, as a stream that moved on."""
    previous: object = None

    def settled() -> bool:
        nonlocal previous
        idle, marks = look()
        quiet = idle and marks == previous
        previous = marks if idle else None
        return quiet

    return settled
