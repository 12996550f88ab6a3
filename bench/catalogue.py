"""The benchmark's catalogue, put on sale through the gateway as operators and owners would: 1,000 departures on
ten routes, 1,000 hotels with a room type and 90 nights each, and a customer's wallet per simulated client."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from tripline.auth.tokens import issue_dev_token
from tripline_ops.client import Tripline, money, seat_labels

T = TypeVar("T")
SEATS = seat_labels()  # 40 seats
CITIES = ["Mumbai", "Goa", "Pune", "Bengaluru", "Chennai", "Hyderabad"]
ROUTES = [(origin, destination) for origin in CITIES[:3] for destination in CITIES[3:]] + [("Goa", "Mumbai")]
FARE_MINOR = 90_000
NIGHTS = 90
PARALLEL = 16


@dataclass(frozen=True)
class Catalogue:
    schedule_ids: list[str]
    room_type_ids: list[str]
    first_day: str  # the departures' and stays' first date, YYYY-MM-DD
    third_day: str  # the check-out of a two-night stay from ``first_day``
    routes: list[tuple[str, str]]
    hotel_cities: list[str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def put_on_sale(gateway: str, schedules: int = 1_000, hotels: int = 1_000) -> Catalogue:
    admin = Tripline(gateway, issue_dev_token("bench-admin", "admin"))
    run = uuid.uuid4().hex[:8]  # accounts of this run's own: a stack keeps what earlier runs put on sale
    operator_token = issue_dev_token(f"bench-operator-{run}", "operator")
    owner_token = issue_dev_token(f"bench-owner-{run}", "owner")
    operator_id = _supplier(admin, Tripline(gateway, operator_token), "operators")
    owner_id = _supplier(admin, Tripline(gateway, owner_token), "property-owners")
    first_day = datetime.now(UTC).date() + timedelta(days=2)
    bus_ids = _parallel(gateway, operator_token, range(10), lambda api, n: _bus(api, operator_id, n))
    departures = _parallel(
        gateway, operator_token, range(schedules), lambda api, n: _departure(api, bus_ids[n % 10], first_day, n)
    )
    room_types = _parallel(gateway, owner_token, range(hotels), lambda api, n: _hotel(api, owner_id, first_day, n))
    cities = sorted({CITIES[n % len(CITIES)] for n in range(hotels)})
    third_day = (first_day + timedelta(days=2)).isoformat()
    return Catalogue(departures, room_types, first_day.isoformat(), third_day, ROUTES, cities)


def _supplier(admin: Tripline, account: Tripline, collection: str) -> str:
    register = account.register_operator if collection == "operators" else account.register_property_owner
    supplier_id = str(register("Bench Travels", "bench@tripline.example")["id"])
    admin.decide(collection, supplier_id, "approve", note="benchmark")
    return supplier_id


def _bus(api: Tripline, operator_id: str, number: int) -> str:
    registration = f"BN-{operator_id[:8]}-{number:03d}"
    return str(api.add_bus(operator_id, registration, SEATS, bus_type="seater")["id"])


def _departure(api: Tripline, bus_id: str, first_day: date, number: int) -> str:
    # Ten a day on each route, an hour apart, over the first days: search finds a dozen per route and day.
    leaves = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(hours=6 + number // 10 % 14)
    leaves += timedelta(days=number // 140)
    route = ROUTES[number % len(ROUTES)]
    return str(api.add_schedule(bus_id, route, leaves, 8, money(FARE_MINOR))["id"])


def _hotel(api: Tripline, owner_id: str, first_day: date, number: int) -> str:
    hotel_id = api.add_hotel(owner_id, f"Bench Stay {number}", CITIES[number % len(CITIES)], 1 + number % 5)["id"]
    room_type_id = str(api.add_room_type(hotel_id, "Double", 2)["id"])
    api.set_nights(room_type_id, first_day, first_day + timedelta(days=NIGHTS), 20, money(300_000 + number))
    return room_type_id


_local = threading.local()


def _parallel(gateway: str, token: str, items: Iterable[int], work: Callable[[Tripline, int], T]) -> list[T]:
    """``work`` on every item, ``PARALLEL`` at a time, each thread on its own connections; results in order."""

    def run(item: int) -> T:
        if getattr(_local, "token", None) != token:
            _local.api, _local.token = Tripline(gateway, token), token
        return work(_local.api, item)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(run, items))
