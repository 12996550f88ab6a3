"""Fault drills during a booking load through the gateway: whatever crashes, stops or is delivered twice, every
booking ends terminal or resting, and the audit of the platform's invariants passes afterwards (no seat or night
sold twice or to no one, one debit per sold booking, every refund due, every customer's money adding up).

The last test is the acceptance load: 2,000 bookings by 50 customers on four departures and two room types, with
every drill below striking in turn while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from devstack.nats import EmbeddedNats
from devstack.readiness import free_port

from .booking_journeys import stop_together
from .booking_load import BookingLoad, Tally, put_on_sale, summary
from .fault_drills import (
    MESSENGERS,
    assert_audit_passes,
    crash_and_restart_web,
    crash_and_restart_worker,
    database_unavailable,
    deliver_again,
    replica_added_then_removed,
    restart_nats,
)
from .platform import SERVICES, Platform
from .whole_platform import WholePlatform, start_whole_platform

# Unpaid bookings expire within the test; a crashed worker's deliveries come back after 2 s (the fixture's ack wait).
SETTINGS = {"BOOKING_HOLD_TTL_SECONDS": "10"}
Drill = Callable[[WholePlatform], None]


@pytest.fixture
def nats_server(platform: Platform, tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A broker of this test's own, so a drill may stop it without touching the session's."""
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.start()
    platform.env["NATS_URL"] = server.url
    yield server
    stop_together(platform)
    server.stop()


@pytest.fixture
def whole(platform: Platform, nats_server: EmbeddedNats) -> WholePlatform:
    return start_whole_platform(platform, SETTINGS)


def database_unavailable_for(admin_url: str, whole: WholePlatform, service: str, seconds: float = 3) -> None:
    with database_unavailable(admin_url, whole.platform.database_urls[service]):
        time.sleep(seconds)


class Duplicates:
    """Each time, every message published since the last time delivered once more."""

    def __init__(self) -> None:
        self.since = datetime.now(UTC)
        self.delivered: list[int] = []

    def deliver(self, whole: WholePlatform) -> None:
        now = datetime.now(UTC)
        self.delivered.append(deliver_again(whole, self.since))
        self.since = now


def under_load(whole: WholePlatform, drills: list[Drill], customers: int = 10, bookings_each: int = 12) -> Tally:
    """Run each drill in turn while customers book, spaced over the load; then settle and audit."""
    load = BookingLoad(whole, put_on_sale(whole), customers, bookings_each).start()
    total = customers * bookings_each
    for number, drill in enumerate(drills, start=1):
        load.until_placed(total * number // (len(drills) + 1))
        drill(whole)
    tally = load.finish()
    assert_audit_passes(whole)
    assert whole.platform.dead_letters() == 0
    assert tally.placed == total, summary(tally)
    return tally


def test_every_web_server_killed_and_restarted_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, [partial(crash_and_restart_web, service=service) for service in SERVICES])
    assert tally.outcomes["confirmed"] > 0, summary(tally)


def test_every_worker_killed_and_restarted_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, [partial(crash_and_restart_worker, service=service) for service in SERVICES])
    assert tally.outcomes["confirmed"] > 0, summary(tally)


def test_nats_stopped_and_restarted_during_load(whole: WholePlatform, nats_server: EmbeddedNats) -> None:
    tally = under_load(whole, [lambda _: restart_nats(nats_server)])
    assert tally.outcomes["confirmed"] > 0, summary(tally)


def test_each_service_database_unavailable_for_a_while_during_load(
    whole: WholePlatform, postgres_admin_url: str
) -> None:
    outages = [partial(database_unavailable_for, postgres_admin_url, service=service) for service in MESSENGERS]
    tally = under_load(whole, outages)
    assert tally.outcomes["confirmed"] > 0, summary(tally)


def test_a_consumer_replica_added_and_removed_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, [partial(replica_added_then_removed, service=service) for service in SERVICES])
    assert tally.outcomes["confirmed"] > 0, summary(tally)


def test_every_message_delivered_twice_during_load(whole: WholePlatform) -> None:
    duplicates = Duplicates()
    tally = under_load(whole, [duplicates.deliver, duplicates.deliver, duplicates.deliver])
    assert min(duplicates.delivered) > 0
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(1200)
def test_two_thousand_bookings_by_fifty_customers_through_every_drill(
    whole: WholePlatform, nats_server: EmbeddedNats, postgres_admin_url: str
) -> None:
    duplicates = Duplicates()
    drills: list[Drill] = [
        *(partial(crash_and_restart_web, service=service) for service in SERVICES),
        duplicates.deliver,
        *(partial(crash_and_restart_worker, service=service) for service in SERVICES),
        lambda _: restart_nats(nats_server),
        *(partial(database_unavailable_for, postgres_admin_url, service=service) for service in MESSENGERS),
        duplicates.deliver,
        *(partial(replica_added_then_removed, service=service) for service in SERVICES),
    ]

    tally = under_load(whole, drills, customers=50, bookings_each=40)

    print("acceptance load:", summary(tally))  # shown with -s: what 2,000 bookings came to
    [(bookings,)] = whole.platform.sql("bookings", "SELECT count(*) FROM bookings")
    assert bookings == tally.placed == 2_000
    statuses = dict(whole.platform.sql("bookings", "SELECT status, count(*) FROM bookings GROUP BY status"))
    assert set(statuses) <= {"reserved", "confirmed", "cancelled", "expired", "failed"}, statuses
    assert min(statuses.get(status, 0) for status in ("confirmed", "cancelled", "failed")) > 0, statuses
    debited_twice = whole.platform.sql(
        "payments", "SELECT booking_id FROM ledger_transactions WHERE kind = 'debit' GROUP BY 1 HAVING count(*) > 1"
    )
    assert debited_twice == []
