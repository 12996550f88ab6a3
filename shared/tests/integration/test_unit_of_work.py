"""Units of work and read sessions: what waits for a commit runs after it, once, and never undoes it; a read
session runs each statement on its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, text

from tripline.db import make_read_session_factory, make_session_factory

from .conftest import plumbing
from .messages import SomethingHappened


def _outbox_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(plumbing.outbox)).scalar_one())


def test_actions_after_commit_run_once_the_effect_is_committed(engine: Engine, unit_of_work: Any) -> None:
    seen: list[int] = []
    with unit_of_work() as uow:
        uow.outbox.add(SomethingHappened(n=1))
        uow.after_commit(lambda: seen.append(_outbox_rows(engine)))
        assert seen == []
        uow.commit()

    assert seen == [1]  # another connection already saw the committed row


def test_actions_of_a_unit_of_work_that_rolls_back_never_run(unit_of_work: Any) -> None:
    seen: list[str] = []
    with unit_of_work() as uow:
        uow.after_commit(lambda: seen.append("ran"))

    with unit_of_work() as uow:  # the same factory's next unit of work starts with none waiting
        uow.commit()

    assert seen == []


def test_a_failing_action_leaves_the_commit_and_the_other_actions_standing(engine: Engine, unit_of_work: Any) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("a metric could not be recorded")

    with unit_of_work() as uow:
        uow.outbox.add(SomethingHappened(n=1))
        uow.after_commit(broken)
        uow.after_commit(lambda: seen.append("ran"))
        uow.commit()

    assert seen == ["ran"]
    assert _outbox_rows(engine) == 1


def test_each_statement_of_a_read_session_is_a_transaction_of_its_own(engine: Engine) -> None:
    transaction_ids = "SELECT pg_current_xact_id()::text"
    with make_read_session_factory(engine)() as session:
        first, second = (session.execute(text(transaction_ids)).scalar_one() for _ in range(2))
    with make_session_factory(engine)() as session:
        in_one = {session.execute(text(transaction_ids)).scalar_one() for _ in range(2)}

    assert first != second  # no BEGIN around them, so no ROLLBACK after them either
    assert len(in_one) == 1
