"""Holds under contention on real PostgreSQL: no seat or night taken twice, no deadlock, no stale approval."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psycopg
import pytest

from .. import catalog
from ..desk import TOMORROW, HoldDesk, available_seats, night_counts, rooms, seat_states, seats
from ..support import plain_url, sql


def test_fifty_concurrent_reserves_never_hold_a_seat_twice(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    labels = catalog.seat_labels(40)
    # Overlapping requests: booking n wants three neighbouring seats starting at a pseudo-random label.
    requests = {uuid.uuid4(): [labels[(n * 7 + k) % 40] for k in range(3)] for n in range(50)}

    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = dict(
            zip(requests, pool.map(lambda b: desk.reserve(b, seats(schedule_id, *requests[b])), requests), strict=True)
        )

    assert {kind for kind, _ in replies.values()} <= {"reserved", "rejected"}
    reserved = {booking for booking, (kind, _) in replies.items() if kind == "reserved"}
    assert reserved, "some bookings must get their seats"
    states = seat_states(database_url, schedule_id)
    for booking in reserved:
        assert all(states[seat] == ("held", booking) for seat in requests[booking])
    held = [seat for seat, (status, _) in states.items() if status == "held"]
    assert len(held) == sum(len(requests[booking]) for booking in reserved)
    assert available_seats(database_url, schedule_id) == 40 - len(held)
    rejected = [reply for kind, reply in replies.values() if kind == "rejected"]
    assert all(reply["reason"] == "seats_unavailable" for reply in rejected)
    assert len(rejected) >= 50 - 40 // 3  # three seats each: at most 13 bookings fit


def test_twenty_concurrent_stays_never_exceed_three_rooms(
    desk: HoldDesk, room_type_id: uuid.UUID, database_url: str
) -> None:
    stays = {uuid.uuid4(): (TOMORROW + timedelta(days=n % 5), 1 + n % 3) for n in range(20)}

    def reserve(booking: uuid.UUID) -> tuple[str, dict[str, object]]:
        check_in, length = stays[booking]
        return desk.reserve(booking, rooms(room_type_id, check_in, check_in + timedelta(days=length)))

    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = dict(zip(stays, pool.map(reserve, stays), strict=True))

    assert {kind for kind, _ in replies.values()} <= {"reserved", "rejected"}
    expected_held: dict[date, int] = {}
    for booking, (kind, _) in replies.items():
        if kind == "reserved":
            check_in, length = stays[booking]
            for offset in range(length):
                night = check_in + timedelta(days=offset)
                expected_held[night] = expected_held.get(night, 0) + 1
    counts = night_counts(database_url, room_type_id)
    assert all(held + sold <= total for total, held, sold in counts.values())
    assert {night: held for night, (_, held, _) in counts.items() if held} == expected_held


def test_sweepers_and_reserves_of_seats_and_stays_never_deadlock(
    desk: HoldDesk, database_url: str, room_type_id: uuid.UUID
) -> None:
    operator_id = catalog.operator(database_url)
    schedules = [catalog.schedule(database_url, operator_id, seats=40) for _ in range(2)]
    sql(database_url, "UPDATE room_nights SET total = 100 WHERE room_type_id = %s", room_type_id)
    labels = catalog.seat_labels(40)
    stay = rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=2))
    lapsed = [uuid.uuid4() for _ in range(30)]
    for n, booking in enumerate(lapsed):  # seats and a stay each, on alternating schedules
        assert desk.reserve(booking, seats(schedules[n % 2], labels[n // 2]), stay)[0] == "reserved"
        desk.lapse(booking, by=timedelta(minutes=10))
    fresh = {uuid.uuid4(): seats(schedules[n % 2], labels[20 + n // 2]) for n in range(30)}

    with ThreadPoolExecutor(max_workers=8) as pool:
        sweeps = [pool.submit(desk.sweep) for _ in range(3)]
        reserves = [pool.submit(desk.reserve, booking, item, stay) for booking, item in fresh.items()]
        swept = sum(future.result() for future in sweeps)  # a deadlock would raise here or below
        replies = [future.result() for future in reserves]

    assert swept == 30
    assert [kind for kind, _ in replies] == ["reserved"] * 30
    for schedule_id in schedules:
        free = sum(1 for status, _ in seat_states(database_url, schedule_id).values() if status == "free")
        assert available_seats(database_url, schedule_id) == free == 25
    assert {held for _, held, _ in night_counts(database_url, room_type_id).values() if held} == {30}


@pytest.mark.parametrize(
    ("statement", "sells"),
    [
        ("UPDATE operators SET approval_status = 'suspended'", "seats"),
        ("UPDATE property_owners SET approval_status = 'suspended'", "rooms"),
        ("UPDATE hotels SET is_active = false", "rooms"),
    ],
)
def test_a_reserve_waits_for_a_suspension_in_progress_and_then_refuses(
    desk: HoldDesk, database_url: str, schedule_id: uuid.UUID, room_type_id: uuid.UUID, statement: str, sells: str
) -> None:
    item = seats(schedule_id, "1A") if sells == "seats" else rooms(room_type_id, TOMORROW, TOMORROW + timedelta(1))
    with psycopg.connect(plain_url(database_url)) as admin:
        admin.execute(statement)  # uncommitted: the row stays locked for update
        with ThreadPoolExecutor(max_workers=1) as pool:
            reply = pool.submit(desk.reserve, uuid.uuid4(), item)
            wait_until_a_backend_waits_for_a_lock(database_url)
            admin.commit()
            kind, payload = reply.result()

    assert (kind, payload["reason"]) == ("rejected", "not_sellable")


def wait_until_a_backend_waits_for_a_lock(database_url: str) -> None:
    """Bounded poll of pg_stat_activity: the reserve is blocked on a row lock of this database."""
    for _ in range(400):
        waiting = sql(
            database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        if waiting[0][0]:
            return
        time.sleep(0.025)
    raise AssertionError("the reserve never waited for the suspension's lock")
