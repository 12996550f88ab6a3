"""The consumer loop: fetch, handle once through the inbox, ack after commit, retry or dead-letter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter
from pydantic import ValidationError

from tripline.db import is_transient
from tripline.lifecycle import growing_pause, pause
from tripline.messaging.contracts import Contract, UnknownContract
from tripline.messaging.dead_letters import dead_letter
from tripline.messaging.envelope import TRACEPARENT_HEADER, Envelope
from tripline.messaging.inbox import Handler, InboxRunner, Outcome
from tripline.messaging.streams import ConsumerSpec, ensure_consumer
from tripline.settings import MessagingSettings
from tripline.tracing import bind_trace, child_traceparent, new_traceparent, parse_traceparent, unbind_trace

log = structlog.get_logger(__name__)

T = TypeVar("T")
HANDLED = Counter("tripline_messages_handled_total", "Deliveries handled", ["consumer", "outcome"])

FETCH_BATCH = 10
FETCH_TIMEOUT_SECONDS = 1.0
MAX_NAK_DELAY_SECONDS = 60.0


class InvalidMessage(Exception):
    """A delivery no retry can fix: unparseable, unknown type or version, or no handler for it."""


class MessageConsumer:
    """One durable pull consumer and the handlers for the message types it receives."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        runner: InboxRunner[Any],
        handlers: Mapping[type[Contract], Handler[Any]],
        settings: MessagingSettings,
        *,
        together: bool = False,
    ):
        self._js = js
        self._spec = spec
        self._runner = runner
        self._handlers = dict(handlers)
        self._settings = settings
        self._together = together

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; a lost connection or a missing stream is waited out, forever."""
        failures = 0
        while not stop.is_set():
            try:
                await ensure_consumer(self._js, self._spec, self._settings)
                subscription = await self._js.pull_subscribe_bind(durable=self._spec.durable, stream=self._spec.stream)
                failures = 0
                await self._consume(subscription, stop)
            except Exception:
                failures += 1
                log.exception("consumer_failed", consumer=self._spec.durable, consecutive_failures=failures)
                await pause(stop, growing_pause(failures))

    async def _consume(self, subscription: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_SECONDS)
                except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either when idle
                    continue
                await self.process_all(messages)
        finally:
            await subscription.unsubscribe()

    async def process_all(self, messages: Sequence[Msg]) -> None:
        """Handle what one fetch returned: several together in one transaction, or else one at a time.

        A fetch returns at once with whatever is waiting, so a batch forms only when messages queue up: under load
        the per-transaction work is shared, and a lone message waits for nothing.
        """
        fetched_at = asyncio.get_running_loop().time()
        if self._together and len(messages) > 1 and await self._handled_together(messages):
            return
        for msg in messages:
            await self._keep_alive_if_waited(msg, fetched_at)
            await self.process(msg)

    async def _handled_together(self, messages: Sequence[Msg]) -> bool:
        """True when every message was applied (or found a duplicate) in one transaction and settled."""
        try:
            decoded = [(msg, *self._decode(msg)) for msg in messages]
        except Exception:  # noqa: BLE001 - whatever it is, the one-at-a-time path settles each message
            return False  # and dead-letters one that is invalid
        # Applied in the order of what they are about (a booking's id in the saga), each one's own messages in
        # delivery order: batches of two consumers, or of two replicas, then lock those rows in the same order
        # and never wait on each other in a cycle.
        decoded.sort(key=lambda delivery: delivery[1].correlation_id or "")
        deliveries = [
            (envelope, payload, self._traced(msg, envelope, handler)) for msg, envelope, payload, handler in decoded
        ]
        try:
            outcomes = await self._kept_alive(messages, asyncio.to_thread(self._runner.handle_together, deliveries))
        except Exception:
            # Rolled back (or, if the commit itself failed, perhaps not): each message gets its own transaction,
            # retries and dead letter, and one that did commit is found in the inbox, a duplicate.
            log.info("batch_handled_one_at_a_time", consumer=self._spec.durable, size=len(messages), exc_info=True)
            return False
        for (msg, envelope, _, _), outcome in zip(decoded, outcomes, strict=True):
            try:
                await self._settle_handled(msg, envelope, outcome)
            except Exception:
                log.exception("message_unsettled", consumer=self._spec.durable, subject=msg.subject)
        return True

    async def _kept_alive(self, messages: Sequence[Msg], handling: Awaitable[T]) -> T:
        """Await ``handling``, asking JetStream for a fresh ack wait for ``messages`` while it lasts (a batch
        waiting on locks may outlast one ack wait, and must not be delivered again meanwhile)."""
        task = asyncio.ensure_future(handling)
        while True:
            done, _ = await asyncio.wait({task}, timeout=self._settings.nats_ack_wait_seconds / 3)
            if done:
                return task.result()
            for msg in messages:
                try:
                    await msg.in_progress()
                except Exception:
                    # NATS away: the batch goes on; a redelivery meanwhile finds its inbox rows, applied once.
                    log.warning("keep_alive_failed", consumer=self._spec.durable, subject=msg.subject, exc_info=True)

    async def process(self, msg: Msg) -> None:
        """Handle one delivery and settle it: ack, nak with a delay, or dead-letter and terminate.

        Settling can fail too (NATS away): the message is then left to JetStream's redelivery after the ack
        wait, never lost, since the consumer gives JetStream no delivery limit of its own.
        """
        try:
            await self._handle_and_settle(msg)
        except Exception:
            log.exception("message_unsettled", consumer=self._spec.durable, subject=msg.subject)

    async def _handle_and_settle(self, msg: Msg) -> None:
        deliveries = msg.metadata.num_delivered
        try:
            envelope, payload, handler = self._decode(msg)
            outcome = await asyncio.to_thread(
                self._runner.handle, envelope, payload, self._traced(msg, envelope, handler)
            )
        except InvalidMessage as invalid:
            await self._give_up(msg, reason=str(invalid), kind="invalid")
        except Exception as error:
            if deliveries >= self._settings.nats_max_deliver and not is_transient(error):
                await self._give_up(msg, reason=f"{type(error).__name__}: {error}", kind="exhausted")
            else:
                # A database outage is waited out however long it lasts; only a failing handler runs out of tries.
                log.warning("message_retry", consumer=self._spec.durable, deliveries=deliveries, exc_info=True)
                HANDLED.labels(consumer=self._spec.durable, outcome="retried").inc()
                await msg.nak(delay=retry_delay(deliveries))
        else:
            await self._settle_handled(msg, envelope, outcome)

    async def _settle_handled(self, msg: Msg, envelope: Envelope, outcome: Outcome) -> None:
        HANDLED.labels(consumer=self._spec.durable, outcome=outcome.value).inc()
        await msg.ack()
        if outcome is Outcome.DUPLICATE:
            log.info("message_duplicate", consumer=self._spec.durable, message_id=str(envelope.id))

    async def _keep_alive_if_waited(self, msg: Msg, fetched_at: float) -> None:
        # A message that waited behind slow ones in its batch asks for a fresh ack wait before handling.
        if asyncio.get_running_loop().time() - fetched_at > self._settings.nats_ack_wait_seconds / 3:
            await msg.in_progress()

    def _traced(self, msg: Msg, envelope: Envelope, handler: Handler[Any]) -> Handler[Any]:
        """The handler run in a child span of the publisher's trace; messages it writes carry the trace on."""
        parent = parse_traceparent((msg.headers or {}).get(TRACEPARENT_HEADER))
        trace = child_traceparent(parent) if parent else new_traceparent()
        context = {"message_id": str(envelope.id), "message_type": envelope.type, "traceparent": str(trace)}
        if envelope.correlation_id:
            context["correlation_id"] = envelope.correlation_id

        def traced(payload: Contract, envelope: Envelope, uow: Any) -> None:
            # Bound in the handler's own thread, per delivery, so deliveries handled together keep their traces.
            token = bind_trace(trace)
            try:
                with structlog.contextvars.bound_contextvars(trace_id=trace.trace_id, **context):
                    handler(payload, envelope, uow)
            finally:
                unbind_trace(token)

        return traced

    def _decode(self, msg: Msg) -> tuple[Envelope, Contract, Handler[Any]]:
        try:
            envelope = Envelope.model_validate_json(msg.data)
            payload = envelope.open()
        except (ValidationError, UnknownContract) as error:
            raise InvalidMessage(f"invalid message: {error}") from error
        # Keyed by schema class, so a handler written for v1 never receives a v2 payload.
        handler = self._handlers.get(type(payload))
        if handler is None:
            raise InvalidMessage(f"{self._spec.durable} has no handler for {envelope.type} v{envelope.version}")
        return envelope, payload, handler

    async def _give_up(self, msg: Msg, *, reason: str, kind: str) -> None:
        try:
            await dead_letter(self._js, msg, consumer=self._spec.durable, reason=reason, kind=kind)
        except Exception:
            # Not copied, so not terminated: it comes back and the copy is tried again.
            log.exception("dead_letter_failed", consumer=self._spec.durable, subject=msg.subject)
            await msg.nak(delay=retry_delay(msg.metadata.num_delivered))
            return
        log.error("message_dead_lettered", consumer=self._spec.durable, subject=msg.subject, reason=reason)
        HANDLED.labels(consumer=self._spec.durable, outcome="dead_lettered").inc()
        await msg.term()


def retry_delay(deliveries: int) -> float:
    """Seconds before the next delivery after a failed one: 1 s doubling, at most a minute."""
    return float(min(2 ** max(deliveries - 1, 0), MAX_NAK_DELAY_SECONDS))
