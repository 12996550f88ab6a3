"""The worker process: one asyncio loop running the outbox relay, the consumers and the timers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import Gauge, start_http_server
from sqlalchemy import Table, delete, func
from sqlalchemy.orm import Session, sessionmaker

from tripline.db import make_async_engine, make_engine, make_session_factory
from tripline.lifecycle import growing_pause, pause, stop_on_signals
from tripline.messaging.consumer import MessageConsumer
from tripline.messaging.contracts import Contract
from tripline.messaging.inbox import Handler, InboxRunner
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.messaging.relay import OutboxRelay
from tripline.messaging.streams import DLQ_STREAM, ConsumerSpec, StreamSpec, dead_letter_stream, ensure_stream
from tripline.plumbing import PlumbingTables
from tripline.settings import MessagingSettings

log = structlog.get_logger(__name__)

Timer = Callable[[asyncio.Event], Awaitable[None]]
KEY_PURGE_INTERVAL_SECONDS = 600.0
DEAD_LETTERS_PENDING = Gauge("tripline_dead_letters_pending", "Messages waiting in the dead-letter stream")


@dataclass(frozen=True)
class Subscription:
    """A durable consumer and the handler of each message schema (type and version) it receives."""

    spec: ConsumerSpec
    handlers: Mapping[type[Contract], Handler[Any]]
    # Handle what one fetch returns in one transaction (``MessageConsumer.process_all``). Only for handlers
    # whose effects may share a transaction: each keeps its locks until the batch commits.
    together: bool = False


@dataclass(frozen=True)
class WorkerDefinition:
    """Everything one service's worker runs; built by the service's bootstrap."""

    service: str
    database_url: str
    outbox: Table
    inbox: Table
    unit_of_work: Callable[[], OutboxUnitOfWork]
    owned_streams: Sequence[StreamSpec]
    subscriptions: Sequence[Subscription] = ()
    timers: Sequence[Timer] = field(default_factory=tuple)


async def connect_nats(settings: MessagingSettings, name: str, stop: asyncio.Event) -> Client:
    """Connect, retrying until NATS answers; once connected the client reconnects by itself, forever."""
    attempt = 0
    while True:
        try:
            return await nats.connect(settings.nats_url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=1)
        except Exception:
            attempt += 1
            log.warning("nats_connect_failed", attempt=attempt, exc_info=True)
            if stop.is_set():
                raise
            await pause(stop, growing_pause(attempt, cap=5.0))


async def declare_streams(js: JetStreamContext, definition: WorkerDefinition, settings: MessagingSettings) -> None:
    """Create or update the streams this service owns, and the shared dead-letter stream."""
    for spec in (*definition.owned_streams, dead_letter_stream()):
        await ensure_stream(js, spec, settings)


async def run_worker(
    definition: WorkerDefinition, settings: MessagingSettings, stop: asyncio.Event | None = None
) -> None:
    """Run relay, consumers and timers until SIGTERM/SIGINT (or ``stop``), then drain NATS."""
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    client = await connect_nats(settings, f"{definition.service}-worker", stop)
    engine = make_async_engine(definition.database_url, application_name=f"{definition.service}-relay")
    try:
        js = client.jetstream()
        await _until_declared(js, definition, settings, stop)
        if settings.worker_metrics_port is not None:
            start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_address)
        loops: list[Awaitable[None]] = [
            OutboxRelay(engine, definition.outbox, js, settings).run(stop),
            _watch_dead_letters(js, settings.dead_letter_watch_seconds, stop),
        ]
        loops += [
            _consumer(js, definition, subscription, settings).run(stop) for subscription in definition.subscriptions
        ]
        loops += [timer(stop) for timer in definition.timers]
        log.info("worker_started", service=definition.service)
        await asyncio.gather(*(_stop_all_if_it_fails(loop, stop) for loop in loops))
    finally:
        await client.drain()
        await engine.dispose()
        log.info("worker_stopped", service=definition.service)


async def _stop_all_if_it_fails(loop: Awaitable[None], stop: asyncio.Event) -> None:
    # One loop dying (a bug in a timer) stops the others cleanly, and the process exits non-zero to be restarted.
    try:
        await loop
    except BaseException:
        stop.set()
        raise


async def _until_declared(
    js: JetStreamContext, definition: WorkerDefinition, settings: MessagingSettings, stop: asyncio.Event
) -> None:
    attempt = 0
    while not stop.is_set():
        try:
            await declare_streams(js, definition, settings)
            return
        except Exception:
            attempt += 1
            log.warning("stream_declaration_failed", attempt=attempt, exc_info=True)
            await pause(stop, growing_pause(attempt, cap=5.0))


async def _watch_dead_letters(js: JetStreamContext, every_seconds: float, stop: asyncio.Event) -> None:
    """Keep ``tripline_dead_letters_pending`` current, so an alert fires while anything waits in ``DLQ``."""
    while not stop.is_set():
        try:
            DEAD_LETTERS_PENDING.set((await js.stream_info(DLQ_STREAM)).state.messages)
        except Exception:
            log.warning("dead_letter_count_failed", exc_info=True)
        await pause(stop, every_seconds)


def _consumer(
    js: JetStreamContext, definition: WorkerDefinition, subscription: Subscription, settings: MessagingSettings
) -> MessageConsumer:
    runner = InboxRunner(subscription.spec.durable, definition.inbox, definition.unit_of_work)
    return MessageConsumer(
        js, subscription.spec, runner, subscription.handlers, settings, together=subscription.together
    )


def define_worker(
    service: str,
    database_url: str,
    tables: PlumbingTables,
    owned_streams: Sequence[StreamSpec],
    subscriptions: Sequence[Subscription] = (),
    timers: Sequence[Timer] = (),
) -> WorkerDefinition:
    """A worker whose handlers get an ``OutboxUnitOfWork`` on the service's database."""
    session_factory = make_session_factory(make_engine(database_url, application_name=f"{service}-worker"))
    return WorkerDefinition(
        service=service,
        database_url=database_url,
        outbox=tables.outbox,
        inbox=tables.inbox,
        unit_of_work=partial(OutboxUnitOfWork, session_factory, tables.outbox, service),
        owned_streams=owned_streams,
        subscriptions=subscriptions,
        timers=(*timers, every(KEY_PURGE_INTERVAL_SECONDS, partial(purge_expired_keys, session_factory, tables))),
    )


def every(seconds: float, action: Callable[[], object]) -> Timer:
    """A timer running a blocking ``action`` in a thread every ``seconds``; a failure is logged and retried."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(action)
            except Exception:
                log.exception("timer_failed", action=getattr(action, "__name__", repr(action)))
            await pause(stop, seconds)

    return run


def purge_expired_keys(session_factory: sessionmaker[Session], tables: PlumbingTables) -> int:
    """Delete Idempotency-Key records past their retention; returns how many."""
    table = tables.idempotency_requests
    with session_factory() as session, session.begin():
        result = session.execute(delete(table).where(table.c.expires_at < func.now()))
    return int(getattr(result, "rowcount", 0) or 0)
