"""Consumers told to handle a fetched batch together: one transaction for the lot, in lock order, and one at a time
again when anything fails."""

from __future__ import annotations

import uuid
from typing import Any

from nats.aio.client import Client
from sqlalchemy import Engine

from tripline.messaging.contracts import Contract
from tripline.messaging.dead_letters import list_dead_letters
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import Outcome

from .conftest import eventually
from .consumer_harness import (
    Harness,
    declare_streams,
    effect_message_ids,
    effect_transactions,
    messaging_settings,
    publish,
)
from .messages import SomethingHappened, record_effect


async def test_messages_waiting_together_are_applied_in_one_transaction_each_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    envelopes = [Envelope.wrap(SomethingHappened(n=n), source="testing") for n in range(5)]
    for envelope in envelopes:
        await publish(nats_client, envelope)

    async with Harness(nats_client, unit_of_work, settings, together=True) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 5)

    assert harness.runner.together == [5]
    assert harness.runner.outcomes == [Outcome.APPLIED] * 5
    assert sorted(effect_message_ids(engine)) == sorted(str(envelope.id) for envelope in envelopes)
    assert effect_transactions(engine) == 1


async def test_a_failing_message_undoes_its_batch_which_is_then_handled_one_at_a_time(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    # The second message fails in the batch and once more on its own, then succeeds on its redelivery.
    failures = iter([RuntimeError("a passing fault"), RuntimeError("the same fault again")])

    def flaky_on_the_second(message: Contract, envelope: Envelope, uow: Any) -> None:
        record_effect(message, envelope, uow)
        if message.n == 2 and (error := next(failures, None)) is not None:  # type: ignore[attr-defined]
            raise error

    envelopes = [Envelope.wrap(SomethingHappened(n=n), source="testing") for n in (1, 2, 3)]
    for envelope in envelopes:
        await publish(nats_client, envelope)
    async with Harness(nats_client, unit_of_work, settings, handler=flaky_on_the_second, together=True) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 3, within=15)

    # The batch was rolled back whole (no effect of the first message survived it), then each message had its
    # own transaction: the first and third at once, the second once JetStream delivered it again.
    assert harness.runner.together == []
    assert harness.runner.outcomes == [Outcome.APPLIED] * 3
    assert next(failures, None) is None  # both faults struck: in the batch, then alone before the retry
    assert sorted(effect_message_ids(engine)) == sorted(str(envelope.id) for envelope in envelopes)
    assert effect_transactions(engine) == 3


async def test_a_consumer_not_told_to_handle_messages_together_gives_each_its_own_transaction(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    for n in range(4):
        await publish(nats_client, Envelope.wrap(SomethingHappened(n=n), source="testing"))

    async with Harness(nats_client, unit_of_work, settings) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 4)

    assert harness.runner.together == []
    assert effect_transactions(engine) == 4


async def test_an_invalid_message_among_valid_ones_is_dead_lettered_and_the_others_applied(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    valid = [Envelope.wrap(SomethingHappened(n=n), source="testing") for n in (1, 2)]
    await publish(nats_client, valid[0])
    await nats_client.jetstream().publish(SomethingHappened.SUBJECT, b"{not json", headers={"Nats-Msg-Id": "x"})
    await publish(nats_client, valid[1])

    async with Harness(nats_client, unit_of_work, settings, together=True) as harness:
        (letter,) = await eventually(lambda: list_dead_letters(nats_client.jetstream()))
        await eventually(lambda: len(harness.runner.outcomes) == 2)

    assert letter.data == b"{not json"
    assert harness.runner.outcomes == [Outcome.APPLIED] * 2
    assert sorted(effect_message_ids(engine)) == sorted(str(envelope.id) for envelope in valid)


async def test_two_copies_of_one_message_in_a_batch_apply_it_once(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    envelope = Envelope.wrap(SomethingHappened(n=8), source="testing")
    await publish(nats_client, envelope)
    await publish(nats_client, envelope, msg_id=str(uuid.uuid4()))  # the same envelope, past the stream's window

    async with Harness(nats_client, unit_of_work, settings, together=True) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 2)

    assert harness.runner.together == [2]
    assert harness.runner.outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert effect_message_ids(engine) == [str(envelope.id)]


async def test_messages_handled_together_are_applied_in_the_order_of_what_they_are_about(
    nats_client: Client, engine: Engine, unit_of_work
) -> None:
    settings = messaging_settings()
    await declare_streams(nats_client, settings)
    applied: list[tuple[str, int]] = []

    def recording_order(message: Contract, envelope: Envelope, uow: Any) -> None:
        applied.append((str(envelope.correlation_id), message.n))  # type: ignore[attr-defined]
        record_effect(message, envelope, uow)

    for n, booking in enumerate(["booking-b", "booking-a", "booking-b", "booking-a"]):
        await publish(nats_client, Envelope.wrap(SomethingHappened(n=n), source="testing", correlation_id=booking))
    async with Harness(nats_client, unit_of_work, settings, handler=recording_order, together=True) as harness:
        await eventually(lambda: len(harness.runner.outcomes) == 4)

    # Sorted, two batches take their rows' locks in one order, whatever order they were fetched in; each
    # booking's own messages keep theirs.
    assert harness.runner.together == [4]
    assert applied == [("booking-a", 1), ("booking-a", 3), ("booking-b", 0), ("booking-b", 2)]
