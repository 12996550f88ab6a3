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
from .booking_load import BookingLoad, Supply, Tally, put_on_sale, summary
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
# What may refuse a customer for good under load: paying or cancelling a booking that expired meanwhile.
# Four drills of a few seconds each need a load long enough to still be running when the last one strikes.
FOUR_DRILLS_LOAD = 30
EXPECTED_REFUSALS = {"pay:booking_expired", "pay:invalid_state", "cancel:invalid_state"}


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


def on_each_service(drill: Callable[..., None]) -> list[Drill]:
    return [partial(drill, service=service) for service in SERVICES]


def under_load(whole: WholePlatform, drills: list[Drill], customers: int = 10, bookings_each: int = 20) -> Tally:
    """Run each drill in turn while customers book, spaced over the load; then settle and audit."""
    supply = put_on_sale(whole)
    load = BookingLoad(whole, supply, customers, bookings_each)
    total = customers * bookings_each
    step = total // (len(drills) + 1)
    # Held at each drill's mark until it strikes, so a quick platform cannot finish the load before the last drill.
    load.hold_at(step)
    try:
        load.start()
        for number, drill in enumerate(drills, start=1):
            load.until_placed(step * number)
            assert load.running(), f"the load was over before drill {number} struck"
            load.hold_at(step * (number + 1) if number < len(drills) else None)
            drill(whole)
        tally = load.finish()
    finally:
        load.stop()
    assert_audit_passes(whole)
    assert whole.platform.dead_letters() == 0
    assert tally.placed == total, summary(tally)
    assert tally.gave_up == {}, summary(tally)
    assert {refusal.removesuffix(":retried") for refusal in tally.refusals} <= EXPECTED_REFUSALS, summary(tally)
    assert_search_agrees_with_inventory(whole, supply)
    return tally


def assert_search_agrees_with_inventory(whole: WholePlatform, supply: Supply) -> None:
    """Search's free seats are inventory's once everything is handled (a sold-out departure is not listed)."""
    found = whole.anonymous().search_buses("Mumbai", "Goa", supply.first_night, limit=100)["items"]
    listed = {trip["schedule_id"]: trip["available_seats"] for trip in found}
    admin = whole.admin()
    free = {schedule_id: admin.schedule(schedule_id)["available_seats"] for schedule_id in supply.schedule_ids}
    assert listed == {schedule_id: seats for schedule_id, seats in free.items() if seats > 0}


@pytest.mark.timeout(600)
def test_every_web_server_killed_and_restarted_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, on_each_service(crash_and_restart_web), bookings_each=FOUR_DRILLS_LOAD)
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(600)
def test_every_worker_killed_and_restarted_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, on_each_service(crash_and_restart_worker), bookings_each=FOUR_DRILLS_LOAD)
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(600)
def test_nats_stopped_and_restarted_during_load(whole: WholePlatform, nats_server: EmbeddedNats) -> None:
    tally = under_load(whole, [lambda _: restart_nats(nats_server)])
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(600)
def test_each_service_database_unavailable_for_a_while_during_load(
    whole: WholePlatform, postgres_admin_url: str
) -> None:
    outages = [partial(database_unavailable_for, postgres_admin_url, service=service) for service in MESSENGERS]
    tally = under_load(whole, outages)
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(600)
def test_a_consumer_replica_added_and_removed_during_load(whole: WholePlatform) -> None:
    tally = under_load(whole, on_each_service(replica_added_then_removed), bookings_each=FOUR_DRILLS_LOAD)
    assert tally.outcomes["confirmed"] > 0, summary(tally)


@pytest.mark.timeout(600)
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
        *on_each_service(crash_and_restart_web),
        duplicates.deliver,
        *on_each_service(crash_and_restart_worker),
        lambda _: restart_nats(nats_server),
        *(partial(database_unavailable_for, postgres_admin_url, service=service) for service in MESSENGERS),
        duplicates.deliver,
        *on_each_service(replica_added_then_removed),
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
