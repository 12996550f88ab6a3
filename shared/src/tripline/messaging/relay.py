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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import structlog
from nats.js import JetStreamContext
from sqlalchemy import Row, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tripline.failpoints import failpoint
from tripline.lifecycle import pause
from tripline.plumbing import OUTBOX_CHANNEL
from tripline.settings import MessagingSettings
from tripline.timestamps import utcnow

log = structlog.get_logger(__name__)

PUBLISHED_RETENTION = timedelta(days=7)
PURGE_EVERY_SECONDS = 600.0


@dataclass
class RelayStats:
    """Counters for the relay's own metrics and for tests."""

    published: int = 0
    failed_batches: int = 0


class OutboxRelay:
    """Moves outbox rows to JetStream for one service database."""

    def __init__(self, engine: AsyncEngine, outbox: Table, js: JetStreamContext, settings: MessagingSettings):
        self._engine = engine
        self._outbox = outbox
        self._js = js
        self._settings = settings
        self.stats = RelayStats()
        self._last_purge = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, surviving database and NATS outages with growing pauses."""
        failures = 0
        while not stop.is_set():
            try:
                await self._run_listening(stop)
                failures = 0
            except Exception:
                failures += 1
                self.stats.failed_batches += 1
                log.exception("outbox_relay_failed", consecutive_failures=failures)
                await pause(stop, min(0.2 * 2**failures, 10.0))

    async def relay_pending(self) -> int:
        """Publish every unpublished row, batch after batch; returns how many were published."""
        total = 0
        while True:
            published = await self.relay_batch()
            total += published
            if published < self._settings.relay_batch_size:
                return total

    async def relay_batch(self) -> int:
        """Claim one batch, publish it, wait for every ack, mark what was acknowledged."""
        async with self._engine.begin() as connection:
            rows = (await connection.execute(self._claim_query())).all()
            if not rows:
                return 0
            acked_ids, error = await self._publish(rows)
            failpoint("relay.after_publish")
            await self._mark_published(connection, acked_ids)
            if error is not None:
                await self._record_failure(connection, [r.id for r in rows if r.id not in acked_ids], error)
        self.stats.published += len(acked_ids)
        if error is not None:
            raise error
        return len(acked_ids)

    def _claim_query(self) -> Any:
        outbox = self._outbox
        return (
            select(outbox.c.id, outbox.c.subject, outbox.c.envelope, outbox.c.headers)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(self._settings.relay_batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _publish(self, rows: Sequence[Row[Any]]) -> tuple[set[Any], Exception | None]:
        futures = [
            await self._js.publish_async(
                row.subject,
                json.dumps(row.envelope, separators=(",", ":")).encode(),
                headers=dict(row.headers),
            )
            for row in rows
        ]
        # nats-py futures can wait forever when the server never answers: bound the wait, cancel the rest.
        done, pending = await asyncio.wait(futures, timeout=self._settings.publish_ack_timeout_seconds)
        for future in pending:
            future.cancel()
        acked: set[Any] = set()
        error: Exception | None = TimeoutError("publish acks timed out") if pending else None
        for row, future in zip(rows, futures, strict=True):
            if future in done and future.exception() is None:
                acked.add(row.id)
            elif future in done:
                error = error or _as_exception(future.exception())
        return acked, error

    async def _mark_published(self, connection: AsyncConnection, ids: set[Any]) -> None:
        if ids:
            await connection.execute(
                update(self._outbox).where(self._outbox.c.id.in_(ids)).values(published_at=func.now())
            )

    async def _record_failure(self, connection: AsyncConnection, ids: list[Any], error: Exception) -> None:
        await connection.execute(
            update(self._outbox)
            .where(self._outbox.c.id.in_(ids))
            .values(publish_attempts=self._outbox.c.publish_attempts + 1, last_error=str(error)[:500])
        )

    async def _run_listening(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(_libpq_url(self._engine), autocommit=True) as listener:
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


def _as_exception(error: BaseException | None) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


def _libpq_url(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
