"""A booking load through the gateway: many customers at once on a few departures and hotels, as they would act.

Each customer tops up, then books again and again: seats, a stay, or both; mostly paid at once, sometimes paid
later, left to expire, or cancelled after it is confirmed (which frees the seats for the next customer). Seats are
mostly picked among those the seat map shows free, so customers collide on the same free seats, and the seats
sell out: the contention the platform must survive without overselling.

A customer finds departures through search, and behaves like a careful API client while processes crash and come
back: a request that gets no answer (refused, reset, cut off mid-answer, timed out, a gateway 502/503, or 409
``idempotency_key_in_use`` while a dead request's lease runs out) is sent again with the same ``Idempotency-Key``;
a booking that takes long is followed with ``?wait=`` until it rests.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import requests

from bookings.domain.lifecycle import TRANSITIONAL
from tripline_ops.client import ApiError, Json, bus_seats, hotel_rooms, money, seat_labels

from .whole_platform import WholePlatform

T = TypeVar("T")
SEATS = seat_labels()  # 40 seats
FARE = 90_000
RATE = 300_000
# Answers that mean "not now": the request may not have been handled, and sending it again is safe.
UNANSWERED = frozenset({502, 503, 504})
# The same, when no whole answer came back: refused or reset, cut off mid-body by a server that crashed after
# sending its headers, or too slow.
NO_ANSWER = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout)
# How long a customer waits before sending again a request that got no answer, unless told (Retry-After).
RETRY_SECONDS = 0.5
# How long a customer keeps retrying one request, and following one booking, before moving on.
PATIENCE_SECONDS = 90.0


@dataclass(frozen=True)
class Supply:
    """What the customers compete for: a few departures and a few room types' nights."""

    schedule_ids: list[str]
    room_type_ids: list[str]
    first_night: date
    nights: int


def put_on_sale(whole: WholePlatform, departures: int = 4, room_types: int = 2, rooms: int = 20) -> Supply:
    """An approved operator's departures (40 seats each, three days from today) and an approved owner's room
    types."""
    admin = whole.admin()
    operator = whole.client("load-operator", "operator")
    operator_id = operator.register_operator("Konkan Travels", "ops@konkan.example")["id"]
    admin.decide("operators", operator_id, "approve", note="checked")
    # From 06:00 UTC on, an hour apart, so every departure leaves on the one day search is asked about (search's
    # days are UTC days) whatever the time of day the test runs at; over two days out, inside the full-refund window.
    day = datetime.now(UTC).date() + timedelta(days=3)
    departs = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    schedule_ids = []
    for number in range(departures):
        bus_id = operator.add_bus(operator_id, f"MH-01-LD-{number:04d}", SEATS)["id"]
        leaves = departs + timedelta(hours=number)
        schedule_ids.append(operator.add_schedule(bus_id, ("Mumbai", "Goa"), leaves, 10, money(FARE))["id"])
    owner = whole.client("load-owner", "owner")
    owner_id = owner.register_property_owner("Seaside Stays", "desk@seaside.example")["id"]
    admin.decide("property-owners", owner_id, "approve", note="checked")
    first_night, nights = departs.date(), 10
    room_type_ids = []
    for number in range(room_types):
        hotel_id = owner.add_hotel(owner_id, f"Seaside {number}", "Goa", 4)["id"]
        room_type_id = owner.add_room_type(hotel_id, "Double", 2)["id"]
        owner.set_nights(room_type_id, first_night, first_night + timedelta(days=nights), rooms, money(RATE))
        room_type_ids.append(room_type_id)
    return Supply(schedule_ids, room_type_ids, first_night, nights)


@dataclass
class Tally:
    """What the load did, counted across customers."""

    placed: int = 0
    customers_done: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    # 409s that refused a request for good, by ``what:code``; ``retried`` marks one answered to a request sent again
    # after no answer, which must never be refused for a change it made itself the first time.
    refusals: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)
    booking_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Notified at each booking placed, for a drill waiting for its moment.
    placing: threading.Condition = field(init=False)
    # Set when the test is over, passed or failed: every customer stops at its next request.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Customers place no new booking while this many are placed (None: no limit), so a load cannot finish before
    # the drills meant to strike it; a few already on their way may go past it, one per customer at most.
    placing_limit: int | None = None

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def __post_init__(self) -> None:
        self.placing = threading.Condition(self.lock)

    def refused(self, what: str, code: str, *, retried: bool) -> None:
        with self.lock:
            self.refusals[f"{what}:{code}" + (":retried" if retried else "")] += 1

    def placed_booking(self, booking_id: str) -> None:
        with self.placing:
            self.placed += 1
            self.booking_ids.append(booking_id)
            self.placing.notify_all()

    def may_place(self) -> bool:
        """Once below the placing limit: True; False if the test is over first."""
        with self.placing:
            self.placing.wait_for(
                lambda: self.stopping.is_set() or self.placing_limit is None or self.placed < self.placing_limit
            )
        return not self.stopping.is_set()

    def limit_placing(self, limit: int | None) -> None:
        with self.placing:
            self.placing_limit = limit
            self.placing.notify_all()

    def stop(self) -> None:
        with self.placing:
            self.stopping.set()
            self.placing.notify_all()

    def customer_done(self) -> None:
        with self.placing:
            self.customers_done += 1
            self.placing.notify_all()

    def abandoned(self, what: str) -> None:
        with self.lock:
            self.gave_up[what] += 1


class Customer:
    """One customer's session: its own connections, its own random choices, the same careful retries."""

    def __init__(self, whole: WholePlatform, name: str, supply: Supply, tally: Tally, rng: random.Random):
        self.api = whole.client(name, "customer")
        self.supply = supply
        self.tally = tally
        self.rng = rng
        # Some customers keep little money: their payments are declined until they top up.
        self.thrifty = rng.random() < 0.2

    def run(self, bookings: int) -> None:
        try:
            self.top_up(FARE if self.thrifty else 20 * FARE)
            for _ in range(bookings):
                if not self.tally.may_place():
                    return
                self.book_once()
        finally:
            self.tally.customer_done()

    def book_once(self) -> None:
        pay_now, items = self.rng.random() < 0.8, self.items()
        placed = self.until_answered("book", lambda key: self.api.book(*items, pay=pay_now, idempotency_key=key))
        if placed is None:
            return
        self.tally.placed_booking(placed["id"])
        booking = self.follow(placed["id"])
        if booking is None:
            return
        self.tally.count(booking["status"])
        self.act_on(booking, paid=pay_now)

    def items(self) -> list[Json]:
        kind = self.rng.choices(["bus", "hotel", "both"], weights=[6, 3, 1])[0]
        items = []
        if kind in ("bus", "both"):
            schedule_id = self.departure_found()
            items.append(bus_seats(schedule_id, self.pick_seats(schedule_id, self.rng.choice([1, 1, 2]))))
        if kind in ("hotel", "both"):
            check_in = self.supply.first_night + timedelta(days=self.rng.randrange(self.supply.nights - 3))
            stay = timedelta(days=self.rng.randint(1, 3))
            items.append(hotel_rooms(self.rng.choice(self.supply.room_type_ids), check_in, check_in + stay))
        return items

    def departure_found(self) -> str:
        """One of the departures search lists for the day (it may lag behind, or be away: then any of them)."""
        on = self.supply.first_night
        found = self.until_answered("search", lambda _: self.api.search_buses("Mumbai", "Goa", on, limit=10))
        listed = [trip["schedule_id"] for trip in (found or {}).get("items", [])]
        return self.rng.choice(listed or self.supply.schedule_ids)

    def pick_seats(self, schedule_id: str, count: int) -> list[str]:
        """Mostly seats the seat map shows free (others may be picking them at this very moment), sometimes any."""
        schedule = self.until_answered("seat_map", lambda _: self.api.schedule(schedule_id))
        free = [seat["seat"] for seat in (schedule or {}).get("seat_map", []) if seat["status"] == "available"]
        if len(free) >= count and self.rng.random() < 0.8:
            return self.rng.sample(free, count)
        return self.rng.sample(SEATS, count)

    def act_on(self, booking: Json, *, paid: bool) -> None:
        """What a customer does next: cancel some confirmed bookings, pay or drop the reserved ones."""
        booking_id, status = booking["id"], booking["status"]
        if status == "confirmed":
            self.until_answered("wallet", lambda _: self.api.wallet())
        if status == "confirmed" and self.rng.random() < 0.7:
            self.cancel(booking_id)
        elif status == "reserved":
            declined = (booking.get("failure") or {}).get("code") == "insufficient_funds"
            if declined:
                self.top_up(2 * FARE + booking["total"]["amount_minor"])
            choice = self.rng.random()
            if declined or (not paid and choice < 0.6):
                self.pay(booking_id)
            elif choice < 0.85:
                self.cancel(booking_id)
            # else: left to expire

    def top_up(self, amount_minor: int) -> None:
        self.until_answered("top_up", lambda key: self.api.top_up(money(amount_minor), idempotency_key=key))

    def pay(self, booking_id: str) -> None:
        if self.until_answered("pay", lambda key: self.api.pay(booking_id, idempotency_key=key)) is not None:
            self.follow(booking_id)

    def cancel(self, booking_id: str) -> None:
        if self.until_answered("cancel", lambda key: self.api.cancel(booking_id, idempotency_key=key)) is not None:
            self.follow(booking_id)

    def follow(self, booking_id: str) -> Json | None:
        """The booking once it rests (reserved, confirmed or terminal); None if it did not within our patience."""
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            booking = self.until_answered("follow", lambda _: self.api.booking(booking_id, wait=5))
            if booking is None:
                return None
            if booking["status"] not in TRANSITIONAL:
                return booking
        self.tally.abandoned("follow")
        return None

    def until_answered(self, what: str, call: Callable[[str], T]) -> T | None:
        """``call`` with one Idempotency-Key until it is answered; None when the platform refused it for good
        (a 409 such as ``booking_expired`` or ``invalid_state``), did not answer within our patience, or the test
        is over."""
        key, retried = str(uuid.uuid4()), False
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline and not self.tally.stopping.is_set():
            try:
                return call(key)
            except ApiError as error:
                if error.status in UNANSWERED or error.code == "idempotency_key_in_use":
                    retried = True
                    self.tally.stopping.wait(retry_after(error))
                    continue
                if error.status == 409:
                    self.tally.refused(what, error.code, retried=retried)
                    return None
                raise
            except NO_ANSWER:
                retried = True
                self.tally.stopping.wait(RETRY_SECONDS)
        if not self.tally.stopping.is_set():
            self.tally.abandoned(what)
        return None


def retry_after(error: ApiError) -> float:
    """What the platform asked for (Retry-After, capped so a customer keeps trying), else our own pause."""
    asked = error.headers.get("Retry-After", "")
    return min(float(asked), 2.0) if asked.isdigit() else RETRY_SECONDS


@dataclass
class BookingLoad:
    """``customers`` customers placing ``bookings_each`` bookings each, all at once, in the background."""

    whole: WholePlatform
    supply: Supply
    customers: int
    bookings_each: int
    seed: int = 20_261_124
    tally: Tally = field(default_factory=Tally)
    _futures: list[Future[None]] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    def start(self) -> BookingLoad:
        self._pool = ThreadPoolExecutor(max_workers=self.customers, thread_name_prefix="customer")
        for number in range(self.customers):
            rng = random.Random(self.seed * 1_000 + number)
            customer = Customer(self.whole, f"load-customer-{number:03d}", self.supply, self.tally, rng)
            self._futures.append(self._pool.submit(customer.run, self.bookings_each))
        return self

    def hold_at(self, placed: int | None) -> None:
        """Customers place no new booking once ``placed`` are (None: no hold); what is under way goes on."""
        self.tally.limit_placing(placed)

    def running(self) -> bool:
        return not all(future.done() for future in self._futures)

    def until_placed(self, bookings: int, timeout: float = 120) -> None:
        """Until the customers have placed ``bookings`` bookings, or all stopped (a drill's moment to strike)."""
        with self.tally.placing:
            placed = self.tally.placing.wait_for(
                lambda: self.tally.placed >= bookings or self.tally.customers_done == self.customers, timeout=timeout
            )
        assert placed, f"only {self.tally.placed} bookings placed in {timeout} s"

    def finish(self) -> Tally:
        """Wait for every customer; a customer's unexpected error fails the load."""
        assert self._pool is not None
        try:
            for future in self._futures:
                future.result()
        finally:
            self.stop()
        return self.tally

    def stop(self) -> None:
        """Every customer stops at its next request, and this waits for them (a failed test must not hang)."""
        self.tally.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def summary(tally: Tally) -> dict[str, Any]:
    return {"placed": tally.placed, "outcomes": dict(tally.outcomes), "refused": dict(tally.refusals),
            "gave_up": dict(tally.gave_up)}  # fmt: skip
