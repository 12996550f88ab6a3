"""A request waiting on a booking is woken by the database when the booking comes to rest, not by polling."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bookings.adapters.booking_watch import LISTENER_NAME as LISTENER
from bookings.adapters.booking_watch import BookingWatch
from bookings.service_layer import booking_requests
from bookings.service_layer.booking_requests import Viewer
from tripline.testing import plain_url

from ..saga_desk import SagaDesk

ASHA = Viewer(sub="cust-asha", is_admin=False)
# Long enough never to run out on a slow machine; a test waits this long only if the behaviour is broken.
PATIENCE_SECONDS = 20.0


@pytest.fixture(name="plain_url")
def libpq_database_url(database_url: str) -> str:
    return plain_url(database_url)


@pytest.fixture
def watch(plain_url: str) -> Iterator[BookingWatch]:
    watch = BookingWatch(plain_url)
    yield watch
    watch.stop()


def test_a_status_change_is_announced_at_commit_with_the_booking_and_its_new_status(
    desk: SagaDesk, plain_url: str
) -> None:
    booking_id = desk.place(pay=False)
    with psycopg.connect(plain_url, autocommit=True) as listener:
        listener.execute("LISTEN booking_moved")

        desk.reply(desk.hold_reserved(booking_id))

        notification = next(listener.notifies(timeout=PATIENCE_SECONDS, stop_after=1))
    assert notification.payload == f"{booking_id} reserved"


def test_a_waiter_is_woken_when_its_booking_comes_to_rest_and_not_by_a_step_on_the_way(
    watch: BookingWatch, plain_url: str
) -> None:
    resting, on_the_way = uuid.uuid4(), uuid.uuid4()
    with watch.watching(on_the_way) as moved_on, watch.watching(resting) as rested:
        with psycopg.connect(plain_url, autocommit=True) as connection:
            _until_listening(watch, connection)
            moved_on.clear()  # woken once when the listener connected: whatever moved before, it missed
            rested.clear()
            connection.execute("SELECT pg_notify('booking_moved', %s)", (f"{on_the_way} payment_pending",))
            connection.execute("SELECT pg_notify('booking_moved', %s)", (f"{resting} confirmed",))
        # Notifications arrive in the order they were sent: once the second has woken its waiter, the first
        # has been seen and left the other one asleep.
        assert rested.wait(PATIENCE_SECONDS)
        assert not moved_on.is_set()


def test_waiting_answers_with_the_booking_once_the_saga_moves_it_on(desk: SagaDesk, watch: BookingWatch) -> None:
    booking_id = desk.place(pay=False)
    answered: list[str] = []

    def wait() -> None:
        booking = booking_requests.wait_until_settled(desk.reads, watch, ASHA, booking_id, PATIENCE_SECONDS)
        answered.append(booking["status"])

    waiter = threading.Thread(target=wait)
    waiter.start()
    desk.reply(desk.hold_reserved(booking_id))
    waiter.join(PATIENCE_SECONDS + 5)

    assert answered == ["reserved"]


def test_a_waiter_reads_again_when_the_listener_reconnects(watch: BookingWatch, plain_url: str) -> None:
    booking_id = uuid.uuid4()
    with watch.watching(booking_id) as moved, psycopg.connect(plain_url, autocommit=True) as admin:
        _until_listening(watch, admin)
        moved.clear()
        # The listener's session is cut, as by a database restart: whatever moved meanwhile was never announced.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (LISTENER,),
        )
        assert moved.wait(PATIENCE_SECONDS)
        _until_listening(watch, admin)


def _until_listening(watch: BookingWatch, connection: psycopg.Connection) -> None:
    """Until the watch's listener is connected (it starts on first use, in a thread of its own) and listening."""
    for _ in range(int(PATIENCE_SECONDS / 0.05)):
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database() AND query LIKE 'LISTEN%%'"
        )
        (sessions,) = connection.execute(query, (LISTENER,)).fetchone() or (0,)
        if sessions and watch.listening:
            return
        time.sleep(0.05)
    raise AssertionError("the watch never listened")
