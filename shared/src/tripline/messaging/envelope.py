"""The JSON envelope every message travels in, and the NATS headers that go with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from tripline.messaging.contracts import Contract
from tripline.timestamps import utcnow

MSG_ID_HEADER = "Nats-Msg-Id"
TRACEPARENT_HEADER = "traceparent"


class Envelope(BaseModel):
    """Identity, causality and the versioned payload of one message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    source: str
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: Contract,
        *,
        source: str,
        correlation_id: str | None = None,
        causation: Envelope | None = None,
    ) -> Envelope:
        """A new envelope around a payload, with a fresh id; ``causation`` is the message being handled.

        A message caused by another inherits its correlation id unless one is given.
        """
        return cls(
            id=uuid.uuid4(),
            type=payload.TYPE,
            version=payload.VERSION,
            occurred_at=utcnow(),
            source=source,
            correlation_id=correlation_id or (causation.correlation_id if causation else None),
            causation_id=causation.id if causation else None,
            payload=payload.model_dump(mode="json"),
        )

    def open(self) -> Contract:
        """The payload parsed with its registered schema (``UnknownContract`` or ``ValidationError``)."""
        return Contract.lookup(self.type, self.version).model_validate(self.payload)

    def to_bytes(self) -> bytes:
        """The exact JSON body published to NATS."""
        return self.model_dump_json().encode()
