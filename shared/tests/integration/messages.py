"""Test-only message contracts and the handler whose effect the tests count."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import insert

from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork

from .conftest import effects

STREAM = "TESTING_EVT"
SUBJECTS = ("testing.evt.>",)


class SomethingHappened(Contract):
    TYPE: ClassVar[str] = "testing.something_happened"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "testing.evt.something_happened"

    n: int


class SomethingHappenedV2(Contract):
    """A major version the consumers below have a schema for but no handler."""

    TYPE: ClassVar[str] = "testing.something_happened"
    VERSION: ClassVar[int] = 2
    SUBJECT: ClassVar[str] = "testing.evt.something_happened"

    n: int
    extra: str


def record_effect(message: Contract, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    uow.session.execute(insert(effects).values(message_id=str(envelope.id)))
