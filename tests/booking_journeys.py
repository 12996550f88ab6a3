"""The booking saga's journeys through the platform's HTTP APIs, and a way to tell that every message is handled.

An operator and a property owner, approved by an admin, put a bus schedule and a hotel's nights on sale through
inventory's API; customers top up their wallets through payments' API and book, pay and cancel through bookings'
API, following each booking with ``?wait=``. Nothing here reaches behind a service's back except to read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tripline.testing import bearer
from tripline_ops.client import seat_labels

from .platform import ADMIN, Platform, Process, call, wait_for

SEATS = seat_labels()  # 40 seats
FARE = 90_000
RATE = 450_000
CURRENCY = "INR"
# Nothing more happens to a booking in these.
TERMINAL = frozenset({"completed", "cancelled", "expired", "failed"})
# A booking rests in these until someone or some timer acts: ``?wait=`` answers as soon as it reaches one.
RESTING = frozenset({"reserved", "confirmed"}) | TERMINAL
# The services whose outboxes carry the saga's commands and replies.
MESSENGERS = ("inventory", "payments", "bookings")
TIMERS = {"BOOKING_TIMER_SECONDS": "0.2"}


def bus_seats(schedule_id: str, *seats: str) -> dict[str, Any]:
    """A bus item of a booking request: the named seats, a passenger for each."""
    return {
        "type": "bus_seats",
        "schedule_id": schedule_id,
        "seats": list(seats),
        "passengers": [{"name": f"Traveller {seat}", "age": 30} for seat in seats],
    }


def hotel_rooms(room_type_id: str, check_in: date, nights: int, rooms: int = 1) -> dict[str, Any]:
    """A hotel item of a booking request: ``rooms`` rooms for ``nights`` nights from ``check_in``."""
    return {
        "type": "hotel_rooms",
        "room_type_id": room_type_id,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + timedelta(days=nights)).isoformat(),
        "rooms": rooms,
        "guests": rooms,
    }


def customer(name: str) -> dict[str, str]:
    """A customer's bearer headers."""
    return bearer(name, "customer")


@dataclass
class Journeys:
    """The three services' web servers and workers, driven as their users would."""

    platform: Platform
    env: dict[str, str]
    inventory: str
    payments: str
    bookings: str
    workers: dict[str, Process] = field(default_factory=dict)

    def call(self, method: str, url: str, headers: dict[str, str], body: Any = None, expect: int | None = 200) -> Any:
        """One request; its JSON body once its status is ``expect`` (None: whatever the status)."""
        return call(method, url, headers, body, expect)

    def start_bookings_worker(self, **extra_env: str) -> Process:
        """Bookings' worker: it owns only BOOKINGS_EVT, so readiness shows in what it does, not in a stream."""
        self.workers["bookings"] = self.platform.worker("bookings", **(self.env | extra_env))
        return self.workers["bookings"]

    # Supply --------------------------------------------------------------------------------------------------

    def schedule(self, departs_in: timedelta = timedelta(days=2), fare: int = FARE) -> str:
        """A 40-seat departure of an approved operator, ``departs_in`` from now."""
        operator = bearer(f"operator-{uuid.uuid4().hex[:8]}", "operator")
        registration = {"name": "Konkan Travels", "contact_email": "ops@konkan.example"}
        operator_id = self.call("POST", f"{self.inventory}/v1/operators", operator, registration, 201)["id"]
        self.call("POST", f"{self.inventory}/v1/operators/{operator_id}/approve", ADMIN, {"note": "checked"})
        bus = {"operator_id": operator_id, "registration": f"MH-{uuid.uuid4().hex[:6]}", "bus_type": "seater",
               "amenities": ["ac"], "seats": SEATS}  # fmt: skip
        bus_id = self.call("POST", f"{self.inventory}/v1/buses", operator, bus, 201)["id"]
        departs = datetime.now(UTC) + departs_in
        schedule = {"bus_id": bus_id, "origin": "Mumbai", "destination": "Goa", "departs_at": departs.isoformat(),
                    "arrives_at": (departs + timedelta(hours=10)).isoformat(),
                    "fare": {"amount_minor": fare, "currency": CURRENCY}}  # fmt: skip
        return str(self.call("POST", f"{self.inventory}/v1/schedules", operator, schedule, 201)["id"])

    def room_type(self, check_in: date, nights: int, rooms: int = 2, rate: int = RATE) -> str:
        """A double room type of an approved owner's hotel, ``rooms`` rooms a night from ``check_in``."""
        owner = bearer(f"owner-{uuid.uuid4().hex[:8]}", "owner")
        registration = {"name": "Seaside Stays", "contact_email": "desk@seaside.example"}
        owner_id = self.call("POST", f"{self.inventory}/v1/property-owners", owner, registration, 201)["id"]
        self.call("POST", f"{self.inventory}/v1/property-owners/{owner_id}/approve", ADMIN, {"note": "checked"})
        hotel = {"owner_id": owner_id, "name": "Seaside", "city": "Goa", "address": "1 Beach Road", "stars": 4}
        hotel_id = self.call("POST", f"{self.inventory}/v1/hotels", owner, hotel, 201)["id"]
        kind = {"name": "Double", "capacity": 2}
        room_type_id = self.call("POST", f"{self.inventory}/v1/hotels/{hotel_id}/room-types", owner, kind, 201)["id"]
        allotment = {"from": check_in.isoformat(), "to": (check_in + timedelta(days=nights)).isoformat(),
                     "rooms": rooms, "rate": {"amount_minor": rate, "currency": CURRENCY}}  # fmt: skip
        self.call("PUT", f"{self.inventory}/v1/room-types/{room_type_id}/nights", owner, allotment)
        return str(room_type_id)

    def seat_map(self, schedule_id: str) -> dict[str, str]:
        """Each seat of the schedule: available, held or sold."""
        schedule = self.call("GET", f"{self.inventory}/v1/schedules/{schedule_id}", customer("someone"))
        return {seat["seat"]: seat["status"] for seat in schedule["seat_map"]}

    def taken_seats(self, schedule_id: str) -> dict[str, str]:
        """The schedule's seats that are held or sold, and which."""
        return {seat: status for seat, status in self.seat_map(schedule_id).items() if status != "available"}

    def rooms_left(self, room_type_id: str, check_in: date, nights: int) -> list[int]:
        """Rooms still free on each night of the stay."""
        span = f"from={check_in.isoformat()}&to={(check_in + timedelta(days=nights)).isoformat()}"
        listing = self.call("GET", f"{self.inventory}/v1/room-types/{room_type_id}/nights?{span}", ADMIN)
        return [night["available"] for night in listing["items"]]

    # Wallets -------------------------------------------------------------------------------------------------

    def top_up(self, name: str, amount_minor: int) -> None:
        """The customer adds money to their wallet through the (sandbox) provider."""
        headers = customer(name) | {"Idempotency-Key": str(uuid.uuid4())}
        body = {"amount": {"amount_minor": amount_minor, "currency": CURRENCY}}
        self.call("POST", f"{self.payments}/v1/wallets/me/top-ups", headers, body, 201)

    def balance(self, name: str) -> int:
        """What the customer's wallet holds, in minor units."""
        return int(self.call("GET", f"{self.payments}/v1/wallets/me", customer(name))["balance"]["amount_minor"])

    # Bookings ------------------------------------------------------------------------------------------------

    def book(self, name: str, *items: dict[str, Any], pay: bool = True) -> dict[str, Any]:
        """Place a booking (paid as soon as it is reserved when ``pay``); answered at once, pending."""
        body: dict[str, Any] = {"items": list(items)}
        if pay:
            body["payment"] = {"method": "wallet"}
        headers = customer(name) | {"Idempotency-Key": str(uuid.uuid4())}
        booking: dict[str, Any] = self.call("POST", f"{self.bookings}/v1/bookings", headers, body, 202)
        assert booking["status"] == "pending", booking
        return booking

    def pay(self, name: str, booking_id: str) -> dict[str, Any]:
        """Pay a reserved booking from the wallet."""
        headers = customer(name) | {"Idempotency-Key": str(uuid.uuid4())}
        url = f"{self.bookings}/v1/bookings/{booking_id}/pay"
        return dict(self.call("POST", url, headers, {"method": "wallet"}, 202))

    def cancel(self, name: str, booking_id: str) -> dict[str, Any]:
        """The customer cancels the booking."""
        headers = customer(name) | {"Idempotency-Key": str(uuid.uuid4())}
        url = f"{self.bookings}/v1/bookings/{booking_id}/cancel"
        return dict(self.call("POST", url, headers, {"reason": "plans changed"}, 202))

    def booking(self, name: str, booking_id: str, wait: float = 0) -> dict[str, Any]:
        """The booking as its customer sees it; with ``wait``, once it rests or after that many seconds."""
        url = f"{self.bookings}/v1/bookings/{booking_id}?wait={wait}"
        return dict(self.call("GET", url, customer(name)))

    def history(self, name: str, booking_id: str) -> list[dict[str, Any]]:
        """Every status change of the booking, oldest first."""
        return list(self.call("GET", f"{self.bookings}/v1/bookings/{booking_id}/history", customer(name))["items"])

    def statuses(self, name: str, booking_id: str) -> list[str]:
        """The statuses the booking went through, in order."""
        return [change["to"] for change in self.history(name, booking_id)]

    def reaches(self, name: str, booking_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        """Follow the booking until it is ``status`` (with ``?wait=`` when that is a status it rests in)."""
        wait = 2 if status in RESTING else 0

        def arrived() -> dict[str, Any] | None:
            booking = self.booking(name, booking_id, wait=wait)
            assert booking["status"] == status or booking["status"] not in TERMINAL, booking
            return booking if booking["status"] == status else None

        booking = wait_for(arrived, timeout=timeout, interval=0.1, what=f"booking {booking_id} {status}")
        assert isinstance(booking, dict)
        return booking

    # Messages ------------------------------------------------------------------------------------------------

    def wait_until_quiet(self, timeout: float = 30) -> None:
        """Until every command and reply of the saga is published and acknowledged (see ``Platform``)."""
        self.platform.wait_until_quiet(MESSENGERS, timeout=timeout)

    def dead_letters(self) -> int:
        """Messages some consumer gave up on."""
        return self.platform.dead_letters()


def start(platform: Platform, settings: Mapping[str, str] | None = None, *, bookings_worker: bool = True) -> Journeys:
    """Inventory's and payments' workers (ready once their command streams exist), bookings' worker after them
    (unless the test starts its own), and the three services' web servers, all with ``settings`` in their
    environment.

    Every process gets the same settings: bookings' web needs the saga's timings as much as its worker does (the
    hold's length travels in the reserve command it queues).
    """
    env = TIMERS | dict(settings or {})
    with ThreadPoolExecutor(max_workers=5) as pool:
        webs = {service: pool.submit(platform.web, service, **env) for service in MESSENGERS}
        ready = {service: pool.submit(platform.ready_worker, service, **env) for service in ("inventory", "payments")}
        workers = {service: future.result() for service, future in ready.items()}
        if bookings_worker:
            workers["bookings"] = platform.worker("bookings", **env)
        inventory, payments, bookings = (webs[service].result() for service in MESSENGERS)
    return Journeys(platform, env, inventory, payments, bookings, workers)


def stop_together(platform: Platform) -> None:
    """Stop every process at once rather than one after another: each takes a moment to drain."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(Process.stop, platform.processes))
