"""Messages go out with the effect that caused them, and only with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from .conftest import plumbing
from .messages import SomethingHappened


def _outbox_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(str(row_id) for row_id in connection.execute(select(plumbing.outbox.c.id)).scalars())


def test_a_message_written_in_a_savepoint_that_rolls_back_is_never_sent(engine: Engine, unit_of_work: Any) -> None:
    # Inventory rolls back a savepoint when it refuses a reservation: what was announced inside it never happened.
    with unit_of_work() as uow:
        kept = uow.outbox.add(SomethingHappened(n=1))
        savepoint = uow.session.begin_nested()
        uow.outbox.add(SomethingHappened(n=2))
        savepoint.rollback()
        uow.commit()

    assert _outbox_ids(engine) == [str(kept.id)]


def test_messages_of_a_unit_of_work_that_never_commits_are_never_sent(engine: Engine, unit_of_work: Any) -> None:
    with unit_of_work() as uow:
        uow.outbox.add(SomethingHappened(n=1))

    assert _outbox_ids(engine) == []
