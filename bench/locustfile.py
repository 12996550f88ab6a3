"""Locust users for ``make bench``: closed-loop customers of the saga and of the single-transaction reference, and
travellers searching. ``BENCH_CATALOGUE`` names the JSON of what is on sale (``bench.catalogue``).

Each booking user reports its own event, ``create→confirmed``: from sending the booking to seeing it confirmed
(for the saga, followed with ``?wait=``); a booking the platform turns down is a failure of that event, so locust
counts the rejections beside the confirmations.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from typing import Any

from locust import FastHttpUser, constant, task

from bench.catalogue import SEATS
from bench.pacing import poisson_arrivals
from tripline.auth.tokens import issue_dev_token

CATALOGUE: dict[str, Any] = json.loads(open(os.environ["BENCH_CATALOGUE"]).read())  # noqa: SIM115
SETTLED = frozenset({"confirmed", "failed", "cancelled", "expired", "completed"})
CONFIRMED_EVENT = "create→confirmed"
TOP_UP_MINOR = 10_000_000_000
# Paced: each client starts tasks at random times on a schedule of its own (``bench.pacing``; the bench divides the
# scenario's rate among its clients), so the scenario's requests arrive as independent travellers' would. A client
# never starts a task before its last has finished, so when answers take longer than the gaps the rate reached falls
# short of the one asked for (the bench prints the rate asked for, its table the rate reached).
PACED = poisson_arrivals(float(os.environ.get("BENCH_RATE_PER_CLIENT", "1")))


class Booker(FastHttpUser):
    """A customer who books one seat at a time, as fast as the answers come back."""

    abstract = True
    wait_time = constant(0)

    def departure(self) -> str:
        return str(random.choice(CATALOGUE["schedule_ids"]))

    def report(self, started: float, confirmed: bool, why: str = "") -> None:
        self.environment.events.request.fire(
            request_type="BOOKING",
            name=CONFIRMED_EVENT,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None if confirmed else RuntimeError(why or "rejected"),
            context={},
        )


class SagaBooker(Booker):
    abstract = True

    def on_start(self) -> None:
        self.name = f"bench-{uuid.uuid4().hex[:12]}"
        self.headers = {"Authorization": f"Bearer {issue_dev_token(self.name, 'customer')}"}
        amount = {"amount": {"amount_minor": TOP_UP_MINOR, "currency": "INR"}}
        self.client.post("/v1/wallets/me/top-ups", json=amount, headers=self._once(), name="top-up")

    def _once(self) -> dict[str, str]:
        return self.headers | {"Idempotency-Key": str(uuid.uuid4())}

    def book_and_follow(self, schedule_id: str) -> str | None:
        """Book one random seat with payment; its id once confirmed, None when turned down."""
        seat = random.choice(SEATS)
        item = {"type": "bus_seats", "schedule_id": schedule_id, "seats": [seat],
                "passengers": [{"name": "Bench", "age": 30}]}  # fmt: skip
        body = {"items": [item], "payment": {"method": "wallet"}}
        started = time.perf_counter()
        placed = self.client.post("/v1/bookings", json=body, headers=self._once(), name="POST /v1/bookings")
        if placed.status_code != 202:
            self.report(started, False, f"placed {placed.status_code}")
            return None
        booking = placed.json()
        while booking["status"] not in SETTLED and not booking.get("failure"):
            booking = self.client.get(
                f"/v1/bookings/{booking['id']}?wait=5", headers=self.headers, name="GET /v1/bookings/{id}?wait"
            ).json()
        confirmed = booking["status"] == "confirmed"
        self.report(started, confirmed, str((booking.get("failure") or {}).get("code", booking["status"])))
        return str(booking["id"]) if confirmed else None


class SagaSpread(SagaBooker):
    """Saga bookings spread over every departure."""

    @task
    def book(self) -> None:
        self.book_and_follow(self.departure())


class SagaSpreadPaced(SagaSpread):
    """The same bookings started at Poisson times, to see the latency below the maximum throughput."""

    wait_time = PACED


class SagaHot(SagaBooker):
    """Saga bookings all on one departure's 40 seats; each confirmed one is cancelled at once, freeing its seat."""

    @task
    def book(self) -> None:
        booking_id = self.book_and_follow(str(CATALOGUE["schedule_ids"][0]))
        if booking_id:
            self.client.post(f"/v1/bookings/{booking_id}/cancel", json={"reason": "bench"}, headers=self._once(),
                             name="POST /v1/bookings/{id}/cancel")  # fmt: skip


class ReferenceBooker(Booker):
    abstract = True

    def on_start(self) -> None:
        self.customer = f"ref-{random.randrange(int(os.environ.get('BENCH_REFERENCE_CUSTOMERS', '64')))}"

    def book_once(self, schedule: int) -> str | None:
        started = time.perf_counter()
        body = {"customer_id": self.customer, "schedule_id": schedule, "seats": [random.choice(SEATS)]}
        answer = self.client.post("/bookings", json=body, name="POST /bookings")
        self.report(started, answer.status_code == 201, f"answered {answer.status_code}")
        return str(answer.json()["id"]) if answer.status_code == 201 else None


class ReferenceSpread(ReferenceBooker):
    @task
    def book(self) -> None:
        self.book_once(random.randrange(len(CATALOGUE["schedule_ids"])))


class ReferenceHot(ReferenceBooker):
    @task
    def book(self) -> None:
        booking_id = self.book_once(0)
        if booking_id:
            self.client.post(f"/bookings/{booking_id}/cancel", name="POST /bookings/{id}/cancel")


class BusSearch(FastHttpUser):
    """A traveller searching departures of a route and day."""

    wait_time = constant(0)

    @task
    def search(self) -> None:
        origin, destination = random.choice(CATALOGUE["routes"])
        params = {"origin": origin, "destination": destination, "date": CATALOGUE["first_day"], "seats": 1}
        self.client.get("/v1/search/buses", params=params, name="GET /v1/search/buses")


class BusSearchPaced(BusSearch):
    wait_time = PACED


class HotelSearch(FastHttpUser):
    """A traveller searching a city's hotels for two nights."""

    wait_time = constant(0)

    @task
    def search(self) -> None:
        city = random.choice(CATALOGUE["hotel_cities"])
        params = {"city": city, "check_in": CATALOGUE["first_day"], "check_out": CATALOGUE["third_day"], "rooms": 1,
                  "guests": 2}  # fmt: skip
        self.client.get("/v1/search/hotels", params=params, name="GET /v1/search/hotels")


class HotelSearchPaced(HotelSearch):
    wait_time = PACED
