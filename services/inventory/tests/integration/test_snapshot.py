"""Snapshots re-announce every aggregate at its current version, so search can be rebuilt from scratch.

An operator runs one with the CLI; search asks for one with ``AnnounceSnapshot``, which the worker's timer answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count

import psycopg
import pytest

from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.cli import COMMANDS
from inventory.service_layer.snapshot import announce_requested_snapshots, record_snapshot_request
from tripline.cli import run_service_cli
from tripline.contracts.inventory import AnnounceSnapshot
from tripline.db import make_engine, make_session_factory
from tripline.messaging.envelope import Envelope
from tripline.messaging.inbox import InboxRunner, Outcome
from tripline.messaging.outbox import OutboxUnitOfWork

from .. import catalog
from ..support import outbox_payloads, plain_url, sql

UnitOfWorkFactory = Callable[[], OutboxUnitOfWork]


def test_snapshot_queues_one_event_per_aggregate_at_its_current_version(
    database_url: str, settings: InventorySettings, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_id = catalog.operator(database_url)
    catalog.operator(database_url, status="pending")
    schedule_id = catalog.schedule(database_url, operator_id, seats=12)
    sql(
        database_url,
        "UPDATE schedules SET version = 7, seats_version = 3, available_seats = 10 WHERE id = %s",
        schedule_id,
    )
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url))
    catalog.nights(database_url, room_type_id, datetime.now(UTC).date() + timedelta(days=1), 3, 5, 9_000)

    status = run_service_cli("inventory", MIGRATIONS_DIR, lambda: settings, ["snapshot"], commands=COMMANDS)

    assert status == 0
    assert '"schedule.upserted": 1' in capsys.readouterr().out
    assert len(outbox_payloads(database_url, "inventory.evt.operator.status_changed")) == 2
    assert len(outbox_payloads(database_url, "inventory.evt.owner.status_changed")) == 1
    [schedule] = outbox_payloads(database_url, "inventory.evt.schedule.upserted")
    assert (schedule["version"], schedule["seats_version"], schedule["available_seats"]) == (7, 3, 10)
    [hotel] = outbox_payloads(database_url, "inventory.evt.hotel.upserted")
    assert [room["room_type_id"] for room in hotel["room_types"]] == [str(room_type_id)]
    [nights] = outbox_payloads(database_url, "inventory.evt.room_nights.changed")
    assert [night["available"] for night in nights["nights"]] == [5, 5, 5]


def test_snapshot_of_an_empty_catalogue_queues_nothing(database_url: str, settings: InventorySettings) -> None:
    assert run_service_cli("inventory", MIGRATIONS_DIR, lambda: settings, ["snapshot"], commands=COMMANDS) == 0
    assert sql(database_url, "SELECT count(*) FROM outbox") == [(0,)]


# Snapshots search asks for ---------------------------------------------------------------------------------------


@pytest.fixture
def unit_of_work(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = make_engine(database_url, application_name="snapshot-tests")
    yield partial(OutboxUnitOfWork, make_session_factory(engine), plumbing.outbox, "inventory")
    engine.dispose()


@pytest.fixture
def commands(unit_of_work: UnitOfWorkFactory) -> InboxRunner[OutboxUnitOfWork]:
    """Inventory's command consumer, as the worker runs it."""
    return InboxRunner("inventory-commands", plumbing.inbox, unit_of_work)


@pytest.fixture
def catalogue(database_url: str) -> None:
    """Two operators (one with a departure), an owner with a hotel of one room type, and three nights."""
    operator_id = catalog.operator(database_url)
    catalog.operator(database_url, status="pending")
    catalog.schedule(database_url, operator_id, seats=12)
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url))
    catalog.nights(database_url, room_type_id, datetime.now(UTC).date() + timedelta(days=1), 3, 5, 9_000)


CATALOGUE_COUNTS = {
    "operator.status_changed": 2,
    "owner.status_changed": 1,
    "schedule.upserted": 1,
    "hotel.upserted": 1,
    "room_nights.changed": 1,
}


def request_snapshot(commands: InboxRunner[OutboxUnitOfWork], request_id: uuid.UUID) -> Envelope:
    """Search asking for a snapshot: one delivery of a new ``AnnounceSnapshot``."""
    envelope = Envelope.wrap(AnnounceSnapshot(request_id=request_id), source="search", correlation_id=str(request_id))
    deliver(commands, envelope)
    return envelope


def deliver(commands: InboxRunner[OutboxUnitOfWork], envelope: Envelope) -> Outcome:
    return commands.handle(envelope, envelope.open(), record_snapshot_request)


def requests(database_url: str) -> list[tuple[uuid.UUID, bool, dict[str, int] | None]]:
    """Every snapshot request: its id, whether it was announced, and the counts it was answered with."""
    rows = sql(
        database_url,
        "SELECT request_id, announced_at IS NOT NULL, counts FROM snapshot_requests ORDER BY requested_at, request_id",
    )
    return [(request_id, announced, counts) for request_id, announced, counts in rows]


def outbox_subjects(database_url: str) -> list[str]:
    """Every queued subject, in the order the relay publishes them."""
    return [row[0] for row in sql(database_url, "SELECT subject FROM outbox ORDER BY created_at, id")]


def test_a_snapshot_request_is_only_recorded_and_a_repeated_request_id_is_one_request(
    commands: InboxRunner[OutboxUnitOfWork], catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()

    envelope = request_snapshot(commands, request_id)
    redelivered = deliver(commands, envelope)
    request_snapshot(commands, request_id)  # search sent the same request again, as a new message

    assert redelivered is Outcome.DUPLICATE
    assert requests(database_url) == [(request_id, False, None)]
    assert outbox_subjects(database_url) == []  # nothing is announced until the timer runs


def test_a_requested_snapshot_announces_every_aggregate_and_then_answers_the_request(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)

    answered = announce_requested_snapshots(unit_of_work)

    assert answered == 1
    subjects = outbox_subjects(database_url)
    assert sorted(subjects[:-1]) == sorted(
        f"inventory.evt.{kind}" for kind, count in CATALOGUE_COUNTS.items() for _ in range(count)
    )
    assert subjects[-1] == "inventory.evt.snapshot.announced"  # relayed after every event of the snapshot
    [answer] = outbox_payloads(database_url, "inventory.evt.snapshot.announced")
    assert answer == {"request_id": str(request_id), "counts": CATALOGUE_COUNTS}
    assert requests(database_url) == [(request_id, True, CATALOGUE_COUNTS)]


def test_an_announced_request_is_not_announced_again(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)
    announce_requested_snapshots(unit_of_work)
    queued = len(outbox_subjects(database_url))

    request_snapshot(commands, request_id)  # a late repeat of the request already answered
    answered = announce_requested_snapshots(unit_of_work)

    assert answered == 0
    assert len(outbox_subjects(database_url)) == queued
    assert requests(database_url) == [(request_id, True, CATALOGUE_COUNTS)]


def test_requests_pending_together_share_one_snapshot_and_each_is_answered(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    request_snapshot(commands, first)
    request_snapshot(commands, second)

    answered = announce_requested_snapshots(unit_of_work)

    assert answered == 2
    assert len(outbox_payloads(database_url, "inventory.evt.schedule.upserted")) == 1
    answers = outbox_payloads(database_url, "inventory.evt.snapshot.announced")
    assert {answer["request_id"] for answer in answers} == {str(first), str(second)}
    assert all(answer["counts"] == CATALOGUE_COUNTS for answer in answers)
    assert outbox_subjects(database_url)[-2:] == ["inventory.evt.snapshot.announced"] * 2
    assert requests(database_url) == [(first, True, CATALOGUE_COUNTS), (second, True, CATALOGUE_COUNTS)]


def test_nothing_pending_announces_nothing(unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str) -> None:
    assert announce_requested_snapshots(unit_of_work) == 0
    assert outbox_subjects(database_url) == []


def test_a_request_another_worker_is_announcing_is_skipped(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)

    with psycopg.connect(plain_url(database_url)) as other_worker:
        other_worker.execute("SELECT 1 FROM snapshot_requests WHERE request_id = %s FOR UPDATE", (request_id,))
        skipped = announce_requested_snapshots(unit_of_work)
        request_snapshot(commands, request_id)  # a repeat during the other run is not held up by its lock
        other_worker.rollback()  # the other worker crashed: its request is pending again

    assert skipped == 0
    assert outbox_subjects(database_url) == []
    assert announce_requested_snapshots(unit_of_work) == 1


def test_a_request_arriving_during_a_snapshot_waits_for_the_next_one(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    early, late = uuid.uuid4(), uuid.uuid4()
    request_snapshot(commands, early)

    first_run = announce_requested_snapshots(before_batch(1, unit_of_work, lambda: request_snapshot(commands, late)))

    assert first_run == 1
    assert requests(database_url) == [(early, True, CATALOGUE_COUNTS), (late, False, None)]
    assert announce_requested_snapshots(unit_of_work) == 1
    assert len(outbox_payloads(database_url, "inventory.evt.schedule.upserted")) == 2


def test_a_snapshot_that_fails_midway_leaves_its_request_pending_for_a_run_from_the_start(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)

    def database_goes_away() -> None:
        raise ConnectionError("server closed the connection unexpectedly")

    with pytest.raises(ConnectionError):
        # Batches 1-3 read and announce the operators; the failure comes before the owners.
        announce_requested_snapshots(before_batch(4, unit_of_work, database_goes_away))

    assert requests(database_url) == [(request_id, False, None)]
    assert outbox_payloads(database_url, "inventory.evt.snapshot.announced") == []
    assert announce_requested_snapshots(unit_of_work) == 1
    assert len(outbox_payloads(database_url, "inventory.evt.operator.status_changed")) == 2 + 2  # first run's too
    [answer] = outbox_payloads(database_url, "inventory.evt.snapshot.announced")
    assert answer["counts"] == CATALOGUE_COUNTS


def before_batch(n: int, unit_of_work: UnitOfWorkFactory, action: Callable[[], object]) -> UnitOfWorkFactory:
    """``unit_of_work``, running ``action`` just before a run opens its ``n``-th batch transaction.

    A run opens its own transaction first (the one locking the requests), then one per batch it reads or announces.
    """
    opened = count()

    def open_unit_of_work() -> OutboxUnitOfWork:
        if next(opened) == n:
            action()
        return unit_of_work()

    return open_unit_of_work
