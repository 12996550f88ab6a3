"""Re-announce every aggregate to search, so its read model can be dropped and rebuilt at will.

Each event carries the aggregate's current version, so a read model that already holds it ignores the repeat.
Aggregates are announced in batches, one short transaction each, so a large catalogue never holds a long
transaction; a room type's nights go out in events of at most ``NIGHTS_PER_EVENT`` nights, so none outgrows a
NATS message however far ahead its nights are on sale.

Search asks with ``AnnounceSnapshot``. Its handler only records the request (the consumer also carries holds and
must stay quick); the worker's timer answers it later:

1. it takes a session-level advisory lock on a connection in autocommit mode, so a second worker replica never
   runs at the same time: one that does not get the lock returns at once. The lock holds no transaction, so a long
   run never holds back vacuum; it is released when the run ends, or when a crashed process's connection closes;
2. in a short transaction it reads the requests pending now;
3. it announces everything once, in batches that commit on their own. After each batch it waits (for a bounded
   time) until the relay has brought inventory's unpublished outbox rows under ``OUTBOX_BACKLOG_LIMIT``: the relay
   publishes in the order rows were queued, and hold replies queued behind a whole snapshot would keep the booking
   saga waiting;
4. in one short transaction it marks those requests announced with the counts (those still pending: only they
   are answered) and queues one ``SnapshotAnnounced`` per request. Queued last, it is relayed after every event of
   the snapshot.

Requests pending together are answered by one snapshot: every event was read after each of them arrived, which is
all a request asks for. A request that arrives during a run waits for the next one, since the run may already have
passed the aggregates it wants re-read. A crash before step 4 leaves the requests pending, and the next run
announces everything again from the start: repeated events are harmless for the reason above.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import groupby

import structlog
from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from inventory.adapters.tables import (
    hotels,
    operators,
    plumbing,
    property_owners,
    room_nights,
    room_types,
    schedules,
    snapshot_requests,
)
from inventory.service_layer.announcements import (
    hotel_upserted,
    room_nights_changed,
    schedule_upserted,
    supplier_status_changed,
)
from tripline.contracts.inventory import AnnounceSnapshot, SnapshotAnnounced
from tripline.failpoints import failpoint
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

log = structlog.get_logger(__name__)
BATCH = 500
# A year of nights: a room type's event stays far below NATS's 1 MB message limit however far ahead it is on sale.
NIGHTS_PER_EVENT = 366
# The advisory lock a run of the timer holds (the bytes of "snapshot"); advisory locks are per database.
SNAPSHOT_LOCK_KEY = 0x736E617073686F74
# Unpublished outbox rows the timer leaves ahead of hold replies before it waits for the relay to catch up.
OUTBOX_BACKLOG_LIMIT = 1_000
# How long the timer waits for the relay after a batch before it goes on anyway: a stopped relay must not wedge it.
BACKLOG_PATIENCE_SECONDS = 60.0
BACKLOG_POLL_SECONDS = 0.2
Announcer = Callable[[OutboxUnitOfWork, list[uuid.UUID]], int]  # queues events for a batch of ids; returns how many


def announce_everything(
    unit_of_work: Callable[[], OutboxUnitOfWork], pace: Callable[[], None] | None = None
) -> dict[str, int]:
    """Queue one event per operator, owner, schedule and hotel, and a room type's nights in events of at most
    ``NIGHTS_PER_EVENT``; returns how many events of each kind were queued.

    ``pace``, if given, runs after each batch commits, before the next one is read: the worker's timer waits there
    for the relay, while the CLI (which may run with no relay at all) queues everything at once.
    """
    announcers: dict[str, tuple[Table, Announcer]] = {
        "operator.status_changed": (operators, _suppliers("operator", operators)),
        "owner.status_changed": (property_owners, _suppliers("owner", property_owners)),
        "schedule.upserted": (schedules, _each(schedule_upserted)),
        "hotel.upserted": (hotels, _each(hotel_upserted)),
        "room_nights.changed": (room_types, _nights),
    }
    counts = dict.fromkeys(announcers, 0)
    for kind, (table, announce) in announcers.items():
        for batch in _batches(unit_of_work, table):
            with unit_of_work() as uow:
                counts[kind] += announce(uow, batch)
                uow.commit()
            if pace is not None:
                pace()
    return counts


def record_snapshot_request(command: AnnounceSnapshot, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Remember that a snapshot was asked for; the worker's timer announces it. A repeated request id is one."""
    uow.session.execute(upsert(snapshot_requests).values(request_id=command.request_id).on_conflict_do_nothing())


def announce_requested_snapshots(
    unit_of_work: Callable[[], OutboxUnitOfWork],
    *,
    backlog_limit: int = OUTBOX_BACKLOG_LIMIT,
    patience_seconds: float = BACKLOG_PATIENCE_SECONDS,
) -> int:
    """Announce everything once for the requests pending now and answer each; returns how many were answered.

    Returns 0 at once while another process runs it. After each batch it waits until fewer than ``backlog_limit``
    outbox rows are unpublished, for at most ``patience_seconds``.
    """
    with _snapshot_lock(unit_of_work) as locked:
        if not locked:
            return 0
        requests = _pending_requests(unit_of_work)
        if not requests:
            return 0
        counts = announce_everything(
            unit_of_work, pace=partial(_wait_for_relay, unit_of_work, backlog_limit, patience_seconds)
        )
        failpoint("snapshot.before_answered")
        answered = _answer(unit_of_work, requests, counts)
    log.info("snapshot_announced", requests=[str(request_id) for request_id in answered], counts=counts)
    return len(answered)


@contextmanager
def _snapshot_lock(unit_of_work: Callable[[], OutboxUnitOfWork]) -> Iterator[bool]:
    """Whether this process took the snapshot lock; it holds it until the ``with`` block ends."""
    with unit_of_work() as uow:
        # Autocommit: the connection keeps the lock between statements without ever holding a transaction open.
        connection = uow.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        locked = bool(connection.scalar(select(func.pg_try_advisory_lock(SNAPSHOT_LOCK_KEY))))
        try:
            yield locked
        finally:
            if locked:
                # The connection goes back to the pool: a lock left on it would shut every later run out.
                connection.scalar(select(func.pg_advisory_unlock(SNAPSHOT_LOCK_KEY)))


def _pending_requests(unit_of_work: Callable[[], OutboxUnitOfWork]) -> list[uuid.UUID]:
    """Every request not yet announced, oldest first."""
    with unit_of_work() as uow:
        return list(
            uow.session.execute(
                select(snapshot_requests.c.request_id)
                .where(snapshot_requests.c.announced_at.is_(None))
                .order_by(snapshot_requests.c.requested_at, snapshot_requests.c.request_id)
            ).scalars()
        )


def _answer(
    unit_of_work: Callable[[], OutboxUnitOfWork], requests: list[uuid.UUID], counts: dict[str, int]
) -> list[uuid.UUID]:
    """Mark ``requests`` announced and queue one ``SnapshotAnnounced`` each, skipping any answered meanwhile (a run
    that lost its lock's connection may have gone on); returns the requests answered, oldest first."""
    with unit_of_work() as uow:
        marked = set(
            uow.session.execute(
                update(snapshot_requests)
                .where(snapshot_requests.c.request_id.in_(requests), snapshot_requests.c.announced_at.is_(None))
                .values(announced_at=func.now(), counts=counts)
                .returning(snapshot_requests.c.request_id)
            ).scalars()
        )
        answered = [request_id for request_id in requests if request_id in marked]
        for request_id in answered:
            uow.outbox.add(SnapshotAnnounced(request_id=request_id, counts=counts), correlation_id=str(request_id))
        uow.commit()
    return answered


def _wait_for_relay(unit_of_work: Callable[[], OutboxUnitOfWork], backlog_limit: int, patience_seconds: float) -> None:
    """Return once fewer than ``backlog_limit`` outbox rows await the relay, or after ``patience_seconds`` anyway."""
    give_up_at = time.monotonic() + patience_seconds
    while _unpublished(unit_of_work, backlog_limit) >= backlog_limit:
        if time.monotonic() >= give_up_at:
            log.warning(
                "snapshot_outbox_backlog_not_draining", backlog_limit=backlog_limit, waited_seconds=patience_seconds
            )
            return
        time.sleep(BACKLOG_POLL_SECONDS)


def _unpublished(unit_of_work: Callable[[], OutboxUnitOfWork], limit: int) -> int:
    """How many outbox rows await the relay, counted up to ``limit`` only.

    It reads at most ``limit`` rows, which the relay's partial index of unpublished rows (``ix_outbox_unpublished``)
    finds without touching the published ones, however long the outbox has grown.
    """
    outbox = plumbing.outbox
    backlog = select(outbox.c.id).where(outbox.c.published_at.is_(None)).limit(limit).subquery()
    with unit_of_work() as uow:
        return uow.session.execute(select(func.count()).select_from(backlog)).scalar_one()


def _suppliers(kind: str, table: Table) -> Announcer:
    def announce(uow: OutboxUnitOfWork, ids: list[uuid.UUID]) -> int:
        rows = uow.session.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
        for row in rows:
            uow.outbox.add(supplier_status_changed(kind, row))
        return len(rows)

    return announce


def _each(event_of: Callable[[Session, uuid.UUID], Contract]) -> Announcer:
    def announce(uow: OutboxUnitOfWork, ids: list[uuid.UUID]) -> int:
        for aggregate_id in ids:
            uow.outbox.add(event_of(uow.session, aggregate_id))
        return len(ids)

    return announce


def _nights(uow: OutboxUnitOfWork, room_type_ids: list[uuid.UUID]) -> int:
    """Each room type's nights, oldest first, in events of at most ``NIGHTS_PER_EVENT`` nights each."""
    rows = uow.session.execute(
        select(room_nights, room_types.c.hotel_id)
        .join(room_types, room_types.c.id == room_nights.c.room_type_id)
        .where(room_nights.c.room_type_id.in_(room_type_ids))
        .order_by(room_nights.c.room_type_id, room_nights.c.night)
    ).mappings()
    announced = 0
    for (room_type_id, hotel_id), grouped in groupby(rows, key=lambda row: (row["room_type_id"], row["hotel_id"])):
        nights = list(grouped)
        for first in range(0, len(nights), NIGHTS_PER_EVENT):
            uow.outbox.add(room_nights_changed(room_type_id, hotel_id, nights[first : first + NIGHTS_PER_EVENT]))
            announced += 1
    return announced


def _batches(unit_of_work: Callable[[], OutboxUnitOfWork], table: Table) -> Iterator[list[uuid.UUID]]:
    """Every id of ``table``, in keyset-paged batches."""
    after: uuid.UUID | None = None
    while True:
        with unit_of_work() as uow:
            query = select(table.c.id).order_by(table.c.id).limit(BATCH)
            if after is not None:
                query = query.where(table.c.id > after)
            batch = list(uow.session.execute(query).scalars())
        if not batch:
            return
        yield batch
        after = batch[-1]
