"""Exactly-once effects over at-least-once delivery: the inbox row and the effect commit together."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
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
# One delivery to apply: its envelope, its payload and the handler of the payload's schema.
Delivery = tuple[Envelope, Contract, Handler[U]]


class InboxRunner(Generic[U]):
    """Runs a handler for a delivery at most once per (consumer, message id), in one transaction."""

    def __init__(self, consumer: str, inbox: Table, unit_of_work: Callable[[], U]):
        self.consumer = consumer
        self._inbox = inbox
        self._unit_of_work = unit_of_work
        # Built once: each delivery gives it its rows, so nothing about it is worked out again per message.
        self._record = insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)

    def handle(self, envelope: Envelope, payload: Contract, handler: Handler[U]) -> Outcome:
        """Record the message and apply its effect; a message seen before changes nothing."""
        with self._unit_of_work() as uow:
            if not self._record_all(uow.session, [envelope]):
                return Outcome.DUPLICATE
            handler(payload, envelope, uow)
            failpoint(f"inbox.{envelope.type}.before_commit")
            uow.commit()
        failpoint(f"inbox.{envelope.type}.after_commit")
        return Outcome.APPLIED

    def handle_together(self, deliveries: Sequence[Delivery[U]]) -> list[Outcome]:
        """Record and apply several deliveries in one transaction: every one of them, or, if any fails, none.

        One commit, one connection checkout and one thread hop for the lot instead of one each; the caller
        handles them one at a time again when this raises, so a failing delivery gets its own retries.
        """
        outcomes = []
        with self._unit_of_work() as uow:
            new = self._record_all(uow.session, [envelope for envelope, _, _ in deliveries])
            for envelope, payload, handler in deliveries:
                if envelope.id in new:
                    new.discard(envelope.id)  # a second copy in the same batch is a duplicate
                    handler(payload, envelope, uow)
                    failpoint(f"inbox.{envelope.type}.before_commit")
                    outcomes.append(Outcome.APPLIED)
                else:
                    outcomes.append(Outcome.DUPLICATE)
            uow.commit()
        for (envelope, _, _), outcome in zip(deliveries, outcomes, strict=True):
            if outcome is Outcome.APPLIED:
                failpoint(f"inbox.{envelope.type}.after_commit")
        return outcomes

    def _record_all(self, session: Session, envelopes: Sequence[Envelope]) -> set[Any]:
        """Insert every delivery's inbox row in one statement; returns the ids not seen before.

        A concurrent delivery of the same message waits on its row's lock, then finds it: no double effect.
        """
        inserted = session.execute(
            self._record,
            # In id order, so two replicas inserting overlapping batches take the rows' locks in the same order.
            # A list of rows, not .values([...]): SQLAlchemy caches this statement once compiled, and still sends
            # the rows in one INSERT, in the order given.
            [
                {"consumer": self.consumer, "message_id": e.id, "message_type": e.type}
                for e in sorted(envelopes, key=lambda e: e.id)
            ],
        ).scalars()
        return set(inserted)
