"""Re-announce every aggregate to search, so its read model can be dropped and rebuilt at will.

Each event carries the aggregate's current version, so a read model that already holds it ignores the repeat.
Aggregates are announced in batches, one transaction each, so a large catalogue never holds one long transaction.

Search asks with ``AnnounceSnapshot``. Its handler only records the request (the consumer also carries holds and
must stay quick); the worker's timer answers it later:

1. it locks every request pending when the run starts, ``FOR UPDATE SKIP LOCKED`` in a session of its own, so a
   second worker replica never announces the same requests (it skips them, and takes only newer ones). That
   transaction stays open, idle, for the whole run: it holds those rows' locks and nothing else;
2. it announces everything once, in batches that commit on their own;
3. in the locking transaction it marks each of those requests announced with the counts, and queues one
   ``SnapshotAnnounced`` per request. Queued last, it is relayed after every event of the snapshot.

Requests pending together are answered by one snapshot: every event was read after each of them arrived, which is
all a request asks for. A request that arrives during a run waits for the next one, since the run may already have
passed the aggregates it wants re-read. A crash before step 3 leaves the requests pending and unlocked, and the
next run announces everything again from the start: repeated events are harmless for the reason above.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from itertools import groupby

import structlog
from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from inventory.adapters.tables import (
    hotels,
    operators,
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
Announcer = Callable[[OutboxUnitOfWork, list[uuid.UUID]], int]  # queues events for a batch of ids; returns how many


def announce_everything(unit_of_work: Callable[[], OutboxUnitOfWork]) -> dict[str, int]:
    """Queue one event per operator, owner, schedule and hotel, and one per room type with its nights."""
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
    return counts


def record_snapshot_request(command: AnnounceSnapshot, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Remember that a snapshot was asked for; the worker's timer announces it. A repeated request id is one."""
    uow.session.execute(upsert(snapshot_requests).values(request_id=command.request_id).on_conflict_do_nothing())


def announce_requested_snapshots(unit_of_work: Callable[[], OutboxUnitOfWork]) -> int:
    """Announce everything once for the requests pending now and answer each; returns how many were answered."""
    with unit_of_work() as claim:
        requests = _lock_pending_requests(claim.session)
        if not requests:
            return 0
        counts = announce_everything(unit_of_work)
        failpoint("snapshot.before_answered")
        _mark_announced(claim.session, requests, counts)
        for request_id in requests:
            claim.outbox.add(SnapshotAnnounced(request_id=request_id, counts=counts), correlation_id=str(request_id))
        claim.commit()
    log.info("snapshot_announced", requests=[str(request_id) for request_id in requests], counts=counts)
    return len(requests)


def _lock_pending_requests(session: Session) -> list[uuid.UUID]:
    """Every request not yet announced, oldest first, locked; requests another worker is announcing are skipped."""
    return list(
        session.execute(
            select(snapshot_requests.c.request_id)
            .where(snapshot_requests.c.announced_at.is_(None))
            .order_by(snapshot_requests.c.requested_at, snapshot_requests.c.request_id)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def _mark_announced(session: Session, requests: list[uuid.UUID], counts: dict[str, int]) -> None:
    session.execute(
        update(snapshot_requests)
        .where(snapshot_requests.c.request_id.in_(requests))
        # clock_timestamp, not now(): this transaction began when the run started, not when it finished.
        .values(announced_at=func.clock_timestamp(), counts=counts)
    )


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
    rows = uow.session.execute(
        select(room_nights, room_types.c.hotel_id)
        .join(room_types, room_types.c.id == room_nights.c.room_type_id)
        .where(room_nights.c.room_type_id.in_(room_type_ids))
        .order_by(room_nights.c.room_type_id, room_nights.c.night)
    ).mappings()
    announced = 0
    for (room_type_id, hotel_id), nights in groupby(rows, key=lambda row: (row["room_type_id"], row["hotel_id"])):
        uow.outbox.add(room_nights_changed(room_type_id, hotel_id, list(nights)))
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
