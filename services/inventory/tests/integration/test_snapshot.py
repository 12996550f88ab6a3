"""Snapshots re-announce every aggregate at its current version, so search can be rebuilt from scratch.

An operator runs one with the CLI; search asks for one with ``AnnounceSnapshot``, which the worker's timer answers.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count, groupby, pairwise

import psycopg
import pytest
import structlog

from inventory.adapters.tables import plumbing
from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.cli import COMMANDS
from inventory.service_layer.snapshot import (
    SNAPSHOT_LOCK_KEY,
    announce_everything,
    announce_requested_snapshots,
    record_snapshot_request,
)
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


def test_the_timer_answers_nothing_while_another_worker_holds_the_snapshot_lock(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)

    with psycopg.connect(plain_url(database_url), autocommit=True) as other_worker:
        other_worker.execute("SELECT pg_advisory_lock(%s)", (SNAPSHOT_LOCK_KEY,))
        shut_out = announce_requested_snapshots(unit_of_work)
    # The other worker's connection closed (it finished, or it crashed): its lock went with it.

    assert shut_out == 0
    assert outbox_subjects(database_url) == []
    assert requests(database_url) == [(request_id, False, None)]
    assert announce_requested_snapshots(unit_of_work) == 1
    assert requests(database_url) == [(request_id, True, CATALOGUE_COUNTS)]
    assert snapshot_lock_is_free(database_url)  # the run let go of it on its pooled connection


def test_a_run_holds_the_snapshot_lock_but_no_transaction_while_it_announces(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_snapshot(commands, uuid.uuid4())
    seen: list[tuple[bool, int]] = []

    def look() -> None:
        seen.append((snapshot_lock_is_free(database_url), open_transactions(database_url)))

    # Between the operators and the owners: the run's lock is held, every batch so far has committed.
    answered = announce_requested_snapshots(before_batch(6, unit_of_work, look))

    assert answered == 1
    assert seen == [(False, 0)]


def test_a_request_arriving_during_a_snapshot_waits_for_the_next_one(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    early, late = uuid.uuid4(), uuid.uuid4()
    request_snapshot(commands, early)

    first_run = announce_requested_snapshots(before_batch(2, unit_of_work, lambda: request_snapshot(commands, late)))

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
        # Units of work 2-5 read, announce and pace the operators; the failure comes before the owners.
        announce_requested_snapshots(before_batch(6, unit_of_work, database_goes_away))

    assert requests(database_url) == [(request_id, False, None)]
    assert snapshot_lock_is_free(database_url)
    assert outbox_payloads(database_url, "inventory.evt.snapshot.announced") == []
    assert announce_requested_snapshots(unit_of_work) == 1
    assert len(outbox_payloads(database_url, "inventory.evt.operator.status_changed")) == 2 + 2  # first run's too
    [answer] = outbox_payloads(database_url, "inventory.evt.snapshot.announced")
    assert answer["counts"] == CATALOGUE_COUNTS


# Waiting for the relay -------------------------------------------------------------------------------------------


def test_the_timer_waits_for_the_relay_to_publish_each_batch_before_queueing_the_next(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_snapshot(commands, uuid.uuid4())

    with structlog.testing.capture_logs() as logs, relay_publishing(database_url):
        answered = announce_requested_snapshots(unit_of_work, backlog_limit=1)  # wait until nothing is unpublished

    assert answered == 1
    batches = queued_batches(database_url)
    assert [subject for subject, _, _ in batches] == [
        *(f"inventory.evt.{kind}" for kind in CATALOGUE_COUNTS),
        "inventory.evt.snapshot.announced",
    ]
    for (_, _, published), (_, created, _) in pairwise(batches):
        assert published is not None
        assert published < created  # a batch is queued only once the one before it is out
    assert not [entry for entry in logs if entry["event"] == "snapshot_outbox_backlog_not_draining"]


def test_the_timer_gives_up_waiting_for_a_stopped_relay_and_finishes(
    commands: InboxRunner[OutboxUnitOfWork], unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    request_id = uuid.uuid4()
    request_snapshot(commands, request_id)

    with structlog.testing.capture_logs() as logs:  # no relay runs: every batch stays unpublished
        answered = announce_requested_snapshots(unit_of_work, backlog_limit=1, patience_seconds=0.01)

    assert answered == 1
    assert requests(database_url) == [(request_id, True, CATALOGUE_COUNTS)]
    assert outbox_subjects(database_url)[-1] == "inventory.evt.snapshot.announced"
    gave_up = [entry for entry in logs if entry["event"] == "snapshot_outbox_backlog_not_draining"]
    assert len(gave_up) == len(CATALOGUE_COUNTS)  # once after each batch: one batch of each kind
    assert all(entry["log_level"] == "warning" for entry in gave_up)


def test_the_cli_snapshot_does_not_wait_for_a_relay(
    unit_of_work: UnitOfWorkFactory, catalogue: None, database_url: str
) -> None:
    counts = announce_everything(unit_of_work)  # no pace: the CLI may run while no worker relays anything

    assert counts == CATALOGUE_COUNTS
    assert sql(database_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(sum(counts.values()),)]


# Nights in events of a bounded size ------------------------------------------------------------------------------


def test_a_room_types_nights_are_announced_in_events_of_at_most_a_year_of_nights(
    unit_of_work: UnitOfWorkFactory, database_url: str
) -> None:
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url))
    first = datetime.now(UTC).date() + timedelta(days=1)
    catalog.nights(database_url, room_type_id, first, 800, 5, 9_000)

    counts = announce_everything(unit_of_work)

    assert counts["room_nights.changed"] == 3
    events = outbox_payloads(database_url, "inventory.evt.room_nights.changed")
    assert [len(event["nights"]) for event in events] == [366, 366, 68]
    assert {event["room_type_id"] for event in events} == {str(room_type_id)}
    announced = [night["night"] for event in events for night in event["nights"]]
    assert announced == [(first + timedelta(days=n)).isoformat() for n in range(800)]  # each night once, in order


# Helpers ---------------------------------------------------------------------------------------------------------


def snapshot_lock_is_free(database_url: str) -> bool:
    """Whether another worker could take the snapshot lock now (it lets go at once: its connection closes)."""
    [(free,)] = sql(database_url, "SELECT pg_try_advisory_lock(%s)", SNAPSHOT_LOCK_KEY)
    return bool(free)


def open_transactions(database_url: str) -> int:
    """How many of the tests' engine's connections are inside a transaction now."""
    [(open_now,)] = sql(
        database_url,
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'snapshot-tests' AND xact_start IS NOT NULL",
    )
    return int(open_now)


@contextmanager
def relay_publishing(database_url: str) -> Iterator[None]:
    """A stand-in for the worker's relay, in a thread of its own: it marks every queued row published as it sees it."""
    stop = threading.Event()

    def publish() -> None:
        while not stop.wait(0.02):
            sql(database_url, "UPDATE outbox SET published_at = clock_timestamp() WHERE published_at IS NULL")

    relay = threading.Thread(target=publish, name="relay")
    relay.start()
    try:
        yield
    finally:
        stop.set()
        relay.join()


def queued_batches(database_url: str) -> list[tuple[str, datetime, datetime | None]]:
    """The outbox in queued order, one entry per run of rows of one subject: the subject, when its first row was
    queued, and when its last row was published (None if one is not yet)."""
    rows = sql(database_url, "SELECT subject, created_at, published_at FROM outbox ORDER BY created_at, id")
    batches = []
    for subject, batch in groupby(rows, key=lambda row: row[0]):
        queued = list(batch)
        published = [row[2] for row in queued]
        batches.append((subject, queued[0][1], None if None in published else max(published)))
    return batches


def before_batch(n: int, unit_of_work: UnitOfWorkFactory, action: Callable[[], object]) -> UnitOfWorkFactory:
    """``unit_of_work``, running ``action`` just before a run opens its ``n``-th batch transaction.

    A run opens a unit of work for its lock first (0), then one to read the pending requests (1); then, for each
    batch, one to read it, one to announce it and one to count the relay's backlog. After a table's last batch,
    one more read finds nothing left: the operators' batch is 2-4, the read finding no more operators 5.
    """
    opened = count()

    def open_unit_of_work() -> OutboxUnitOfWork:
        if next(opened) == n:
            action()
        return unit_of_work()

    return open_unit_of_work
