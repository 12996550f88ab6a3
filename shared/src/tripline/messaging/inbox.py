"""Exactly-once effects over at-least-once delivery: the inbox row and the effect commit together."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripline.db import UnitOfWork
from tripline.failpoints import failpoint
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope

U = TypeVar("U", bound=UnitOfWork)


class Outcome(enum.Enum):
    """What handling one delivery did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"


# A handler receives the payload of the schema it is registered for (hence Any), the envelope and the unit of work.
Handler = Callable[[Any, Envelope, U], None]


class InboxRunner(Generic[U]):
    """Runs a handler for a delivery at most once per (consumer, message id), in one transaction."""

    def __init__(self, consumer: str, inbox: Table, unit_of_work: Callable[[], U]):
        self.consumer = consumer
        self._inbox = inbox
        self._unit_of_work = unit_of_work

    def handle(self, envelope: Envelope, payload: Contract, handler: Handler[U]) -> Outcome:
        """Record the message and apply its effect; a message seen before changes nothing."""
        with self._unit_of_work() as uow:
            if not self._record(uow.session, envelope):
                return Outcome.DUPLICATE
            handler(payload, envelope, uow)
            failpoint(f"inbox.{envelope.type}.before_commit")
            uow.commit()
        failpoint(f"inbox.{envelope.type}.after_commit")
        return Outcome.APPLIED

    def _record(self, session: Session, envelope: Envelope) -> bool:
        # A concurrent delivery of the same message waits on this row's lock, then finds it: no double effect.
        inserted = session.execute(
            insert(self._inbox)
            .values(consumer=self.consumer, message_id=envelope.id, message_type=envelope.type)
            .on_conflict_do_nothing()
            .returning(self._inbox.c.message_id)
        ).first()
        return inserted is not None
