"""Consumers apply each message once, retry with backoff, and dead-letter what cannot be handled."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import RetentionPolicy
from sqlalchemy import Engine

from tripline.messaging.contracts import Contract
from tripline.messaging.dead_letters import list_dead_letters, replay_dead_letter
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.streams import StreamSpec, dead_letter_stream, ensure_consumer, ensure_stream

from .conftest import eventually, plumbing
from .consumer_harness import (
    SPEC,
    Harness,
    declare_streams,
    effect_count,
    messaging_settings,
    publish,
)
from .messages import STREAM, SUBJECTS, SomethingHappened, SomethingHappenedV2, record_effect


async def test_message_redelivered_after_a_nak_is_applied_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    envelope = Envelope.wrap(SomethingHappened(n=1), source="testing")
    await publish(nats_client, envelope)
    # The effect commits, then the process loses the ack: the message comes back.
    subscription = await nats_client.jetstream().pull_subscribe_bind(durable=SPEC.durable, stream=STREAM)
    (first,) = await subscription.fetch(1, timeout=2)
    InboxRunner(SPEC.durable, plumbing.inbox, unit_of_work).handle(envelope, envelope.open(), record_effect)
    await first.nak()
    await subscription.unsubscribe()

    async with Harness(nats_client, unit_of_work, settings) as harness:
        await eventually(lambda: harness.runner.outcomes)

    assert harness.runner.outcomes == [Outcome.DUPLICATE]
    assert effect_count(engine) == 1


async def test_message_redelivered_after_an_ack_timeout_is_applied_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings(nats_ack_wait_seconds=1.0)
    await declare_streams(nats_client, settings)
    envelope = Envelope.wrap(SomethingHappened(n=2), source="testing")
    await publish(nats_client, envelope)
    subscription = await nats_client.jetstream().pull_subscribe_bind(durable=SPEC.durable, stream=STREAM)
    (first,) = await subscription.fetch(1, timeout=2)
    InboxRunner(SPEC.durable, plumbing.inbox, unit_of_work).handle(envelope, envelope.open(), record_effect)
    await subscription.unsubscribe()  # never acked: JetStream redelivers after ack_wait

    async with Harness(nats_client, unit_of_work, settings) as harness:
        await eventually(lambda: harness.runner.outcomes)

    assert first.metadata.num_delivered == 1
    assert harness.runner.outcomes == [Outcome.DUPLICATE]
    assert effect_count(engine) == 1


async def test_same_id_published_again_past_the_duplicate_window_is_applied_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings(nats_duplicate_window_seconds=1.0)
    await declare_streams(nats_client, settings)
    envelope = Envelope.wrap(SomethingHappened(n=3), source="testing")
    assert await publish(nats_client, envelope)
    # Inside the window the stream drops the copy; once the window has passed it stores a second one.
    await eventually(lambda: publish(nats_client, envelope), within=15, interval=0.2)

    async with Harness(nats_client, unit_of_work, settings) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 2)

    assert harness.runner.outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert effect_count(engine) == 1


async def test_concurrent_deliveries_of_one_message_apply_it_once(engine: Engine, unit_of_work) -> None:
    envelope = Envelope.wrap(SomethingHappened(n=4), source="testing")
    runner = InboxRunner(SPEC.durable, plumbing.inbox, unit_of_work)
    barrier = threading.Barrier(4)
    outcomes: list[Outcome] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(runner.handle(envelope, envelope.open(), record_effect))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(o.value for o in outcomes) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert effect_count(engine) == 1


async def test_a_transient_failure_is_retried_then_applied_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    failures = iter([RuntimeError("database restarting")])

    def flaky(message: Contract, envelope: Envelope, uow: Any) -> None:
        record_effect(message, envelope, uow)
        error = next(failures, None)
        if error is not None:
            raise error  # after the effect was written: the rollback must undo it

    await publish(nats_client, Envelope.wrap(SomethingHappened(n=5), source="testing"))
    async with Harness(nats_client, unit_of_work, settings, handler=flaky) as harness:
        await eventually(lambda: harness.runner.outcomes)

    assert harness.runner.outcomes == [Outcome.APPLIED]
    assert effect_count(engine) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid message"),
        (Envelope.wrap(SomethingHappenedV2(n=1, extra="x"), source="t").to_bytes(), "no handler"),
        (
            json.dumps(
                {**json.loads(Envelope.wrap(SomethingHappened(n=1), source="t").to_bytes()), "version": 9}
            ).encode(),
            "no schema for testing.something_happened v9",
        ),
    ],
    ids=["unparseable", "version-without-handler", "unknown-major-version"],
)
async def test_an_invalid_message_is_dead_lettered_at_once_with_its_subject_headers_and_reason(
    nats_client: Client, engine: Engine, unit_of_work, body: bytes, reason: str
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    await nats_client.jetstream().publish(
        SomethingHappened.SUBJECT,
        body,
        headers={"Nats-Msg-Id": str(uuid.uuid4()), "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
    )

    async with Harness(nats_client, unit_of_work, settings):
        letters = await eventually(lambda: list_dead_letters(nats_client.jetstream()))

    (letter,) = letters
    assert letter.original_subject == SomethingHappened.SUBJECT
    assert reason in letter.reason
    assert letter.deliveries == 1
    assert letter.consumer == SPEC.durable
    assert letter.headers["traceparent"].startswith("00-aaaa")
    assert letter.data == body
    assert effect_count(engine) == 0


async def test_a_message_failing_every_delivery_is_dead_lettered_after_the_last_and_can_be_replayed(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings(nats_max_deliver=3)
    await declare_streams(nats_client, settings)

    def broken(message: Contract, envelope: Envelope, uow: Any) -> None:
        raise ValueError("a bug in the handler")

    envelope = Envelope.wrap(SomethingHappened(n=6), source="testing")
    await publish(nats_client, envelope)
    async with Harness(nats_client, unit_of_work, settings, handler=broken):
        (letter,) = await eventually(lambda: list_dead_letters(nats_client.jetstream()), within=20)
    assert letter.deliveries == 3
    assert "ValueError: a bug in the handler" in letter.reason
    assert effect_count(engine) == 0

    # Once the handler is fixed, an operator replays it: applied once, and gone from the DLQ.
    await replay_dead_letter(nats_client.jetstream(), letter)
    async with Harness(nats_client, unit_of_work, settings) as harness:
        await eventually(lambda: harness.runner.outcomes)
    assert harness.runner.outcomes == [Outcome.APPLIED]
    assert effect_count(engine) == 1
    assert await list_dead_letters(nats_client.jetstream()) == []


async def test_a_message_whose_dead_letter_copy_fails_is_kept_until_the_copy_succeeds(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings(nats_max_deliver=2)
    js = nats_client.jetstream()
    await ensure_stream(js, StreamSpec(STREAM, SUBJECTS, RetentionPolicy.LIMITS), settings)
    await ensure_consumer(js, SPEC, settings)  # no DLQ stream yet: every copy to it fails

    def broken(message: Contract, envelope: Envelope, uow: Any) -> None:
        raise ValueError("a bug in the handler")

    await publish(nats_client, Envelope.wrap(SomethingHappened(n=7), source="testing"))
    async with Harness(nats_client, unit_of_work, settings, handler=broken):
        await eventually(lambda: _delivered_at_least(nats_client, 3), within=20)
        await ensure_stream(js, dead_letter_stream(), settings)
        (letter,) = await eventually(lambda: list_dead_letters(js), within=20)

    assert letter.deliveries >= 3
    assert "a bug in the handler" in letter.reason


async def _delivered_at_least(client: Client, count: int) -> bool:
    info = await client.jetstream().consumer_info(STREAM, SPEC.durable)
    return bool(info.num_redelivered) and info.delivered.consumer_seq >= count
