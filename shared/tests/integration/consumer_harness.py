"""A consumer under test against the real stream and database, and what the consumer tests read back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.js.api import RetentionPolicy
from sqlalchemy import Engine, func, select, text

from tripline.messaging.consumer import MessageConsumer
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.streams import ConsumerSpec, StreamSpec, dead_letter_stream, ensure_consumer, ensure_stream
from tripline.settings import MessagingSettings

from .conftest import effects, plumbing
from .messages import STREAM, SUBJECTS, SomethingHappened, record_effect

SPEC = ConsumerSpec(durable="testing-effects", stream=STREAM, subjects=SUBJECTS)


class RecordingRunner(InboxRunner[Any]):
    """The real runner, remembering the outcome of every delivery it handled."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.outcomes: list[Outcome] = []
        self.together: list[int] = []  # the size of every batch applied in one transaction

    def handle(self, envelope, payload, handler) -> Outcome:  # type: ignore[no-untyped-def]
        outcome = super().handle(envelope, payload, handler)
        self.outcomes.append(outcome)
        return outcome

    def handle_together(self, deliveries) -> list[Outcome]:  # type: ignore[no-untyped-def]
        outcomes = super().handle_together(deliveries)
        self.outcomes += outcomes
        self.together.append(len(deliveries))
        return outcomes


def messaging_settings(**overrides: Any) -> MessagingSettings:
    values: dict[str, Any] = {"nats_ack_wait_seconds": 2.0, "nats_max_deliver": 4}
    return MessagingSettings(**(values | overrides))


async def declare_streams(client: Client, settings: MessagingSettings) -> None:
    js = client.jetstream()
    await ensure_stream(js, StreamSpec(STREAM, SUBJECTS, RetentionPolicy.LIMITS), settings)
    await ensure_stream(js, dead_letter_stream(), settings)
    await ensure_consumer(js, SPEC, settings)


async def publish(client: Client, envelope: Envelope, msg_id: str | None = None) -> bool:
    """Publish like the relay does; returns whether the stream stored it (False: dropped as a duplicate)."""
    ack = await client.jetstream().publish(
        SomethingHappened.SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": msg_id or str(envelope.id)}
    )
    return not ack.duplicate


def effect_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(effects)).scalar_one())


def effect_transactions(engine: Engine) -> int:
    """How many transactions wrote the effects (each row's ``xmin`` names the one that inserted it)."""
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(DISTINCT xmin::text) FROM effects")).scalar_one())


def effect_message_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [str(row[0]) for row in connection.execute(select(effects.c.message_id))]


class Harness:
    """A consumer running in the background against the real stream and database."""

    def __init__(
        self,
        client: Client,
        unit_of_work: Callable[[], Any],
        settings: MessagingSettings,
        handler=record_effect,
        *,
        together: bool = False,
    ):  # type: ignore[no-untyped-def]
        self.runner = RecordingRunner(SPEC.durable, plumbing.inbox, unit_of_work)
        self.consumer = MessageConsumer(
            client.jetstream(), SPEC, self.runner, {SomethingHappened: handler}, settings, together=together
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        self._task = asyncio.create_task(self.consumer.run(self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task
