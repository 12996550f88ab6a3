"""Writing messages into the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Self

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, sessionmaker

from tripline.db import UnitOfWork
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import MSG_ID_HEADER, TRACEPARENT_HEADER, Envelope
from tripline.tracing import current_trace


class Outbox:
    """Adds messages to the service's outbox table; they are published after the transaction commits."""

    def __init__(self, session: Session, table: Table, source: str):
        self._session = session
        self._table = table
        self._source = source

    def add(
        self,
        payload: Contract,
        *,
        correlation_id: str | None = None,
        causation: Envelope | None = None,
    ) -> Envelope:
        """Queue one message; ``causation`` is the message being handled, if any."""
        envelope = Envelope.wrap(payload, source=self._source, correlation_id=correlation_id, causation=causation)
        self._session.execute(
            insert(self._table).values(
                id=envelope.id,
                subject=payload.subject(),
                message_type=envelope.type,
                envelope=envelope.model_dump(mode="json"),
                headers=_headers_for(envelope),
            )
        )
        return envelope


def _headers_for(envelope: Envelope) -> dict[str, str]:
    headers = {MSG_ID_HEADER: str(envelope.id)}
    # The span being handled (an HTTP request or a consumed message) becomes the message's parent.
    trace = current_trace()
    if trace is not None:
        headers[TRACEPARENT_HEADER] = str(trace)
    return headers


class OutboxUnitOfWork(UnitOfWork):
    """A unit of work whose ``outbox`` writes messages in the same transaction as the effect."""

    def __init__(self, session_factory: sessionmaker[Session], outbox_table: Table, source: str):
        super().__init__(session_factory)
        self._outbox_table = outbox_table
        self._source = source
        self.outbox: Outbox

    def __enter__(self) -> Self:
        super().__enter__()
        self.outbox = Outbox(self.session, self._outbox_table, self._source)
        return self
