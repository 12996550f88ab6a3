"""Messaging probes: an operator's end-to-end check of outbox, relay, NATS and inventory's consumer."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update

from bookings.adapters.tables import messaging_probes
from tripline.messaging.contracts import ProbeAnswered, ProbeRequested
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

TARGET = "inventory"


def request_probe(uow: OutboxUnitOfWork) -> dict[str, Any]:
    """Record a probe and queue its command in the same transaction."""
    probe_id = uuid.uuid4()
    with uow:
        uow.session.execute(insert(messaging_probes).values(id=probe_id, target=TARGET))
        uow.outbox.add(ProbeRequested(probe_id=str(probe_id)), correlation_id=str(probe_id))
        uow.commit()
    return find_probe(uow, probe_id) or {}


def record_probe_answer(event: ProbeAnswered, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Count a distinct answer; the first one sets ``answered_at``."""
    uow.session.execute(
        update(messaging_probes)
        .where(messaging_probes.c.id == uuid.UUID(event.probe_id))
        .values(
            answers=messaging_probes.c.answers + 1,
            answered_at=func.coalesce(messaging_probes.c.answered_at, func.now()),
        )
    )


def find_probe(uow: OutboxUnitOfWork, probe_id: uuid.UUID) -> dict[str, Any] | None:
    """The probe as operators see it, or None."""
    with uow:
        row = uow.session.execute(select(messaging_probes).where(messaging_probes.c.id == probe_id)).first()
    return dict(row._mapping) if row else None
