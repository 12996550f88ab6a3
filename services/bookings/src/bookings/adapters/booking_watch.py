"""Wakes the requests waiting on a booking (``GET /v1/bookings/{id}?wait=``) as soon as it comes to rest.

The ``bookings`` table's trigger notifies ``booking_moved`` with the booking's id and status at commit. One
listening connection per web process, in a thread of its own, wakes the requests waiting on that booking once its
status is not a step on the way (``payment_pending`` wakes no one), and they read it again. A notification can be
missed while the listener reconnects, so a waiter also looks again on its own: every second while the listener is
connected, four times a second while it is not.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import structlog
from psycopg.conninfo import make_conninfo

from bookings.domain.lifecycle import Status
from tripline.lifecycle import growing_pause

log = structlog.get_logger(__name__)

CHANNEL = "booking_moved"
LISTENER_NAME = "bookings-watch"
STEPS_ON_THE_WAY = frozenset(status.value for status in Status if status.is_transitional)
LOOK_AGAIN_SECONDS = 1.0
LOOK_AGAIN_UNWATCHED_SECONDS = 0.25
# How often the listener asks its connection something, so one that died without a word is found, and sees
# whether it was stopped.
CHECK_SECONDS = 1.0
# A half-open socket must fail within seconds, not after the kernel's retransmissions (about 15 minutes).
CONNECTION_LIMITS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


class BookingWatch:
    """The bookings' status changes, as this process's waiting requests need them."""

    def __init__(self, database_url: str):
        self._conninfo = make_conninfo(database_url, application_name=LISTENER_NAME, **CONNECTION_LIMITS)
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._listening = False
        self._listener_pid: int | None = None
        self._stopped = threading.Event()
        self._listener: threading.Thread | None = None

    @contextmanager
    def watching(self, booking_id: uuid.UUID) -> Iterator[threading.Event]:
        """An event set whenever the booking may have moved; clear it before reading the booking."""
        self._ensure_listener()
        moved = threading.Event()
        key = str(booking_id)
        with self._lock:
            self._waiters.setdefault(key, set()).add(moved)
        try:
            yield moved
        finally:
            with self._lock:
                waiters = self._waiters.get(key, set())
                waiters.discard(moved)
                if not waiters:
                    self._waiters.pop(key, None)

    @property
    def listening(self) -> bool:
        """Whether this process's listener is connected now."""
        return self._listening

    def wait(self, moved: threading.Event, seconds: float) -> None:
        """Until the booking may have moved, ``seconds`` pass, or it is time to look again regardless."""
        look_again = LOOK_AGAIN_SECONDS if self._listening else LOOK_AGAIN_UNWATCHED_SECONDS
        moved.wait(min(seconds, look_again))

    def _ensure_listener(self) -> None:
        # Started on first use in each process: gunicorn forks its workers, and a thread does not survive a fork.
        with self._lock:
            if self._listener_pid == os.getpid():
                return
            self._listener_pid = os.getpid()
            self._listening = False
            self._listener = listener = threading.Thread(target=self._listen, name="booking-watch", daemon=True)
        listener.start()

    def stop(self) -> None:
        """Stop listening and wait for the listener to close its connection (seconds at most)."""
        self._stopped.set()
        if self._listener is not None and self._listener_pid == os.getpid():
            self._listener.join(timeout=CHECK_SECONDS + CONNECTION_LIMITS["connect_timeout"] + 5)

    def _listen(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._wake(None)  # whatever moved while no one listened
                    self._listening, failures = True, 0
                    while not self._stopped.is_set():
                        for notification in connection.notifies(timeout=CHECK_SECONDS):
                            self._moved(notification.payload)
                        connection.execute("SELECT 1")
            except Exception:
                failures += 1
                log.warning("booking_watch_lost", consecutive_failures=failures, exc_info=True)
            self._listening = False
            self._stopped.wait(growing_pause(failures))

    def _moved(self, payload: str) -> None:
        booking_id, _, status = payload.partition(" ")
        if status not in STEPS_ON_THE_WAY:  # an unknown status wakes the waiter too, who reads what it is
            self._wake(booking_id)

    def _wake(self, booking_id: str | None) -> None:
        """Wake the waiters of ``booking_id``, or every waiter."""
        with self._lock:
            groups = self._waiters.values() if booking_id is None else [self._waiters.get(booking_id, set())]
            waiters = [moved for group in groups for moved in group]
        for moved in waiters:
            moved.set()
