"""The worker's durable timers: deadlines are rows in the database, claimed with ``SKIP LOCKED``, never sleeps.

Any number of workers may run them at once: each claims a batch of due bookings under row locks another worker
skips, and a crash simply leaves the rows due for the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from prometheus_client import Gauge
from sqlalchemy import RowMapping

from bookings.adapters import booking_records as records
from bookings.domain.lifecycle import Event, Status
from bookings.service_layer.saga import EXPIRED, Cause, SagaRules, move, send_release
from tripline.db import database_now
from tripline.messaging.outbox import OutboxUnitOfWork

log = structlog.get_logger(__name__)
BATCH = 100
STUCK_BOOKINGS = Gauge("tripline_bookings_stuck", "Bookings waiting for another service past their deadline")


def expire_unpaid_bookings(unit_of_work: Callable[[], OutboxUnitOfWork], rules: SagaRules) -> int:
    """Expire reserved bookings past ``expires_at`` and release their items; returns how many."""
    return _until_none_due(unit_of_work, rules, Status.RESERVED, "expires_at", _expire)


def complete_finished_bookings(unit_of_work: Callable[[], OutboxUnitOfWork], rules: SagaRules) -> int:
    """Complete confirmed bookings whose last trip arrived or stay ended; returns how many."""
    return _until_none_due(unit_of_work, rules, Status.CONFIRMED, "ends_at", _complete)


def measure_stuck_bookings(unit_of_work: Callable[[], OutboxUnitOfWork]) -> int:
    """Count stuck bookings into ``tripline_bookings_stuck``; returns the count."""
    with unit_of_work() as uow:
        stuck = records.count_stuck(uow.session)
    STUCK_BOOKINGS.set(stuck)
    return stuck


# What a timer does to one due booking, in the batch's transaction.
Action = Callable[[OutboxUnitOfWork, RowMapping, SagaRules, datetime], None]


def _until_none_due(
    unit_of_work: Callable[[], OutboxUnitOfWork],
    rules: SagaRules,
    status: Status,
    due_column: str,
    action: Action,
) -> int:
    done = 0
    while True:
        with unit_of_work() as uow:
            due = records.claim_due(uow.session, status, due_column, BATCH)
            now = database_now(uow.session)
            for booking in due:
                _each_on_its_own(uow, booking, rules, now, action)
            uow.commit()
        done += len(due)
        if len(due) < BATCH:
            return done


def _each_on_its_own(
    uow: OutboxUnitOfWork, booking: RowMapping, rules: SagaRules, now: datetime, action: Action
) -> None:
    # A savepoint per booking: one that cannot be moved (a bug, a broken row) is logged and left due, and never
    # holds back the rest of the batch, run after run.
    savepoint = uow.session.begin_nested()
    try:
        action(uow, booking, rules, now)
    except Exception:
        savepoint.rollback()
        log.exception("timer_left_booking_due", booking_id=str(booking["id"]), status=booking["status"])
    else:
        savepoint.commit()


def _expire(uow: OutboxUnitOfWork, booking: RowMapping, rules: SagaRules, now: datetime) -> None:
    expired = move(uow, booking, Event.EXPIRE, Cause("not paid before expires_at"), rules, now)
    send_release(uow, expired, EXPIRED, None)


def _complete(uow: OutboxUnitOfWork, booking: RowMapping, rules: SagaRules, now: datetime) -> None:
    move(uow, booking, Event.COMPLETE, Cause("trip arrived or stay ended"), rules, now)
