"""Rebuilding the read model: empty it, and ask inventory to announce every aggregate again.

Emptying and asking commit together, so a crash leaves either the old read model or an empty one with the request
on its way. Events already on their way keep arriving while the snapshot does; both carry versions, so whichever
comes last, the newest fact stays. Inventory announces ``SnapshotAnnounced`` after the snapshot's events, which
marks the rebuild complete.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from search.adapters.tables import rebuilds
from tripline.contracts.inventory import AnnounceSnapshot, SnapshotAnnounced
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

log = structlog.get_logger(__name__)

# The order searches lock the tables in (hotel search: room types, nights, hotels, owners; bus search: trips,
# seats, operators). Truncating in another order could deadlock with a search that took the first table already.
TRUNCATION_ORDER = ("room_types", "room_nights", "hotels", "property_owners", "trips", "trip_seats", "operators")
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True, slots=True)
class Rebuild:
    """One rebuild: when it was asked for, and when inventory had announced everything for it."""

    request_id: uuid.UUID
    requested_at: datetime
    completed_at: datetime | None
    counts: dict[str, int] | None


def start_rebuild(unit_of_work: Callable[[], OutboxUnitOfWork]) -> uuid.UUID:
    """Empty the read model and ask inventory for a snapshot, in one transaction; returns the request's id."""
    request_id = uuid.uuid4()
    with unit_of_work() as uow:
        # A bounded wait for the tables: searches queue behind a waiting TRUNCATE, so it must not wait long.
        uow.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        uow.session.execute(text(f"TRUNCATE {', '.join(TRUNCATION_ORDER)}"))
        uow.session.execute(insert(rebuilds).values(request_id=request_id))
        uow.outbox.add(AnnounceSnapshot(request_id=request_id))
        uow.commit()
    log.info("search_rebuild_started", request_id=str(request_id))
    return request_id


def on_snapshot_announced(event: SnapshotAnnounced, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Mark the rebuild complete: every event of its snapshot came before this one."""
    completed = uow.session.execute(
        update(rebuilds)
        .where(rebuilds.c.request_id == event.request_id, rebuilds.c.completed_at.is_(None))
        .values(completed_at=func.now(), counts=event.counts)
        .returning(rebuilds.c.request_id)
    ).first()
    if completed is not None:
        log.info("search_rebuild_completed", request_id=str(event.request_id), counts=event.counts)


def rebuild_of(session: Session, request_id: uuid.UUID) -> Rebuild | None:
    """A rebuild by its request id, or None."""
    row = session.execute(select(rebuilds).where(rebuilds.c.request_id == request_id)).mappings().first()
    return Rebuild(**row) if row is not None else None
