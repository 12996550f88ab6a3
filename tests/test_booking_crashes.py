"""Bookings' worker killed (SIGKILL) at each step of the saga, before and after its transaction commits, and after
its relay published but before it marked what it published: restarted, it resumes every booking from the database
and JetStream's redeliveries, and each ends where it would have without the crash, with exactly one debit for each
paid booking, every refund due, and seats sold only to confirmed bookings.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from .booking_journeys import FARE, Journeys, bus_seats, start, stop_together
from .platform import Platform, Process, wait_for

ASHA, RAVI = "cust-asha", "cust-ravi"
# Every reply the saga handles on the way to confirmed, declined and cancelled bookings.
REPLIES = (
    "inventory.hold_reserved",
    "payments.debit_succeeded",
    "inventory.hold_confirmed",
    "payments.debit_declined",
    "inventory.hold_released",
    "payments.refund_succeeded",
)
CRASH_POINTS = [f"inbox.{reply}.{when}" for reply in REPLIES for when in ("before_commit", "after_commit")]
CRASH_POINTS.append("relay.after_publish")


@pytest.fixture(autouse=True)
def _processes_stopped_together(platform: Platform) -> Iterator[None]:
    yield
    stop_together(platform)


class CrashingWorker:
    """Bookings' worker started with a crash point armed, and started again, unarmed, once it has died of it."""

    def __init__(self, journeys: Journeys, crash_point: str):
        self.journeys = journeys
        self.crashing: Process = journeys.start_bookings_worker(TRIPLINE_FAILPOINTS=crash_point)
        self.restarted = False

    def until(self, expected: dict[tuple[str, str], str]) -> None:
        """Until each (customer, booking id) is in its expected status, restarting the worker once it died."""

        def reached() -> bool:
            if not self.restarted and self.crashing.popen is not None and self.crashing.popen.poll() is not None:
                self.journeys.start_bookings_worker()
                self.restarted = True
            return all(
                self.journeys.booking(name, booking_id)["status"] == status
                for (name, booking_id), status in expected.items()
            )

        wait_for(reached, timeout=40, interval=0.1, what=f"bookings {expected}")

    def crashed_and_restarted(self) -> None:
        """Once the bookings are where the test expects them, the crash must have happened and a worker run again.

        A crash point after the last step's commit lets the bookings be seen settled a moment before the process
        is gone, and before anyone restarted it to take the delivery the crash left unacknowledged.
        """
        popen = self.crashing.popen
        assert popen is not None
        wait_for(lambda: popen.poll() is not None, timeout=10, what="the crash point reached")
        assert popen.returncode == -signal.SIGKILL, f"the worker died otherwise: {self.crashing.log()}"
        if not self.restarted:
            self.journeys.start_bookings_worker()
            self.restarted = True


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
def test_a_bookings_worker_killed_at_a_saga_step_resumes_every_booking_after_restart(
    platform: Platform, crash_point: str
) -> None:
    journeys = start(platform, bookings_worker=False)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 2 * FARE)
    journeys.top_up(RAVI, FARE - 1)
    worker = CrashingWorker(journeys, crash_point)
    kept = journeys.book(ASHA, bus_seats(schedule_id, "1A"))["id"]
    cancelled_paid = journeys.book(ASHA, bus_seats(schedule_id, "2A"))["id"]
    declined = journeys.book(RAVI, bus_seats(schedule_id, "3A"))["id"]
    worker.until({(ASHA, kept): "confirmed", (ASHA, cancelled_paid): "confirmed", (RAVI, declined): "reserved"})

    journeys.cancel(ASHA, cancelled_paid)
    journeys.cancel(RAVI, declined)

    worker.until({(ASHA, cancelled_paid): "cancelled", (RAVI, declined): "cancelled"})
    worker.crashed_and_restarted()
    journeys.wait_until_quiet()
    # Each went exactly the way it would have without the crash: no step lost, none taken twice.
    paying = ["pending", "reserved", "payment_pending"]
    assert journeys.statuses(ASHA, kept) == [*paying, "confirming", "confirmed"]
    assert journeys.statuses(ASHA, cancelled_paid) == [*paying, "confirming", "confirmed", "cancelling", "cancelled"]
    assert journeys.statuses(RAVI, declined) == [*paying, "reserved", "cancelled"]
    assert journeys.booking(ASHA, cancelled_paid)["refund"] == {"amount_minor": FARE, "currency": "INR"}
    assert journeys.booking(RAVI, declined)["refund"] is None
    assert journeys.balance(ASHA) == FARE
    assert journeys.balance(RAVI) == FARE - 1
    debits = platform.sql(
        "payments", "SELECT booking_id::text, count(*) FROM ledger_transactions WHERE kind = 'debit' GROUP BY 1"
    )
    assert sorted(debits) == sorted([(kept, 1), (cancelled_paid, 1)])
    assert journeys.taken_seats(schedule_id) == {"1A": "sold"}
    assert journeys.dead_letters() == 0
