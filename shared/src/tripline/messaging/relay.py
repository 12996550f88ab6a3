"""The outbox relay: publishes committed outbox rows to JetStream, then marks them published.

A row is claimed with ``FOR UPDATE SKIP LOCKED`` so replicas share the work, published with its id as
``Nats-Msg-Id``, and marked only after JetStream acknowledged it. A crash between publish and mark publishes the
row again; the stream's duplicate window and the consumers' inbox absorb that. Rows are never selected by
"id greater than the last one seen": commit order is not id order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg
import structlog
from nats.js import JetStreamContext
from prometheus_client import Counter
from sqlalchemy import Row, Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tripline.db import libpq_url
from tripline.failpoints import failpoint
from tripline.lifecycle import growing_pause, pause
from tripline.plumbing import OUTBOX_CHANNEL
from tripline.settings import MessagingSettings
from tripline.timestamps import utcnow

log = structlog.get_logger(__name__)

PUBLISHED_RETENTION = timedelta(days=7)
PURGE_EVERY_SECONDS = 600.0
PUBLISH_FAILURES = Counter("tripline_outbox_publish_failures_total", "Outbox rows that failed to publish")


class OutboxRelay:
    """Moves outbox rows to JetStream for one service database."""

    def __init__(self, engine: AsyncEngine, outbox: Table, js: JetStreamContext, settings: MessagingSettings):
        self._engine = engine
        self._outbox = outbox
        self._js = js
        self._settings = settings
        self._last_purge = 0.0
        self._outages = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, surviving database and NATS outages with growing pauses."""
        while not stop.is_set():
            try:
                await self._run_listening(stop)
            except Exception:
                self._outages += 1
                log.exception("outbox_relay_failed", consecutive_failures=self._outages)
                await pause(stop, growing_pause(self._outages))

    async def relay_pending(self) -> int:
        """Publish every row that is due, batch after batch; returns how many were published."""
        total = 0
        while True:
            published = await self.relay_batch()
            self._outages = 0
            total += published
            if published < self._settings.relay_batch_size:
                return total

    async def relay_batch(self) -> int:
        """Claim one batch, publish it, wait for every ack, mark what was acknowledged.

        A row that could not be published (too large, no stream for its subject, no ack in time) is put back
        with a growing delay, so it neither blocks the rows behind it nor is retried in a tight loop.
        """
        async with self._engine.begin() as connection:
            rows = (await connection.execute(self._claim_query())).all()
            if not rows:
                return 0
            acked_ids, failures = await self._publish(rows)
            failpoint("relay.after_publish")
            await self._mark_published(connection, acked_ids)
            await self._postpone(connection, failures)
        return len(acked_ids)

    def _claim_query(self) -> Any:
        outbox = self._outbox
        due = or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= func.now())
        return (
            select(outbox.c.id, outbox.c.subject, outbox.c.envelope, outbox.c.headers)
            .where(outbox.c.published_at.is_(None), due)
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(self._settings.relay_batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _publish(self, rows: Sequence[Row[Any]]) -> tuple[set[Any], dict[Any, BaseException]]:
        timeout = self._settings.publish_ack_timeout_seconds
        futures: dict[Any, asyncio.Future[Any]] = {}
        failures: dict[Any, BaseException] = {}
        for row in rows:
            body = json.dumps(row.envelope, separators=(",", ":")).encode()
            try:
                futures[row.id] = await self._js.publish_async(
                    row.subject, body, headers=dict(row.headers), wait_stall=timeout
                )
            except Exception as error:  # noqa: BLE001 - this row only: too large, bad subject, buffer full
                failures[row.id] = error
        if futures:
            # nats-py futures can wait forever when the server never answers: bound the wait, cancel the rest.
            _, pending = await asyncio.wait(futures.values(), timeout=timeout)
            for future in pending:
                future.cancel()
        acked: set[Any] = set()
        for row_id, future in futures.items():
            if future.cancelled():
                failures[row_id] = TimeoutError("no publish ack in time")
            elif future.exception() is not None:
                failures[row_id] = future.exception()  # type: ignore[assignment]
            else:
                acked.add(row_id)
        return acked, failures

    async def _mark_published(self, connection: AsyncConnection, ids: set[Any]) -> None:
        if ids:
            await connection.execute(
                update(self._outbox).where(self._outbox.c.id.in_(ids)).values(published_at=func.now())
            )

    async def _postpone(self, connection: AsyncConnection, failures: dict[Any, BaseException]) -> None:
        outbox = self._outbox
        for row_id, error in failures.items():
            PUBLISH_FAILURES.inc()
            log.warning("outbox_publish_failed", outbox_id=str(row_id), error=repr(error)[:300])
            await connection.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(
                    publish_attempts=outbox.c.publish_attempts + 1,
                    last_error=repr(error)[:500],
                    # 1 s doubling per failed attempt, at most five minutes.
                    next_attempt_at=func.now()
                    + func.make_interval(0, 0, 0, 0, 0, 0, func.least(func.power(2, outbox.c.publish_attempts), 300)),
                )
            )

    async def _run_listening(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(libpq_url(self._engine), autocommit=True) as listener:
            await listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            while not stop.is_set():
                await self.relay_pending()
                await self._purge_if_due()
                # Woken by the insert trigger; the poll interval covers a missed notification.
                async for _ in listener.notifies(timeout=self._settings.relay_poll_seconds, stop_after=1):
                    pass

    async def _purge_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(self._outbox).where(self._outbox.c.published_at < utcnow() - PUBLISHED_RETENTION)
            )
