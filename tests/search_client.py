"""Search and the supply it lists, through the platform's HTTP APIs, with ways to tell that search has caught up.

Suppliers register and an admin decides on them, operators put buses and departures on sale and owners hotels,
room types and nights, all through inventory's API; travellers ask search's API. What search holds is read from
its database only to compare a rebuilt read model with the one its events built, and whether it has caught up is
read from the services' outboxes and JetStream's consumers, never from search's own tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import requests
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from devstack.readiness import free_port
from tripline.contracts.inventory import ConfirmHold, ReserveInventory
from tripline.messaging.envelope import MSG_ID_HEADER, Envelope
from tripline.testing import bearer
from tripline_ops.client import seat_labels

from .platform import ADMIN, SERVICES, Platform, Process, call, has_stream, on_jetstream, wait_for

SEATS = seat_labels()  # 40 seats
CURRENCY = "INR"
SUPPLY_CONSUMER = "search-inventory-supply"
# Every table of search's read model; the rebuild must fill each exactly as the events did.
READ_MODEL = ("operators", "property_owners", "trips", "trip_seats", "hotels", "room_types", "room_nights")
# Inventory answers a rebuild's snapshot request on this timer: quickly here, every five seconds by default.
QUICK_TIMERS = {"HOLD_SWEEP_SECONDS": "0.2"}
LAG_METRIC = "tripline_search_projection_lag_seconds"


def inr(amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": CURRENCY}


@dataclass(frozen=True)
class Supplier:
    """An operator or property owner, and the headers of the account that registered it."""

    id: str
    headers: dict[str, str]
    collection: str  # operators or property-owners


@dataclass
class Catalogue:
    """Inventory's supply side, driven as operators, owners and admins drive it."""

    inventory: str

    # Suppliers ---------------------------------------------------------------------------------------------------

    def operator(self, status: str = "approved", name: str = "Konkan Travels") -> Supplier:
        """An operator, taken through the admin's decisions that leave it ``status``."""
        return self._supplier("operators", "operator", status, name)

    def owner(self, status: str = "approved", name: str = "Seaside Stays") -> Supplier:
        """A property owner, taken through the admin's decisions that leave it ``status``."""
        return self._supplier("property-owners", "owner", status, name)

    def decide(self, supplier: Supplier, decision: str) -> None:
        """An admin approves, rejects or suspends an operator or owner (whichever ``supplier`` is)."""
        body = {"note": "checked"} if decision == "approve" else {"reason": "checked"}
        call("POST", f"{self.inventory}/v1/{supplier.collection}/{supplier.id}/{decision}", ADMIN, body)

    def _supplier(self, collection: str, role: str, status: str, name: str) -> Supplier:
        account = bearer(f"{role}-{uuid.uuid4().hex[:8]}", role)
        registration = {"name": name, "contact_email": "desk@supplier.example"}
        registered = call("POST", f"{self.inventory}/v1/{collection}", account, registration, 201)
        supplier = Supplier(registered["id"], account, collection)
        for decision in _DECISIONS_TO[status]:
            self.decide(supplier, decision)
        return supplier

    # Buses -------------------------------------------------------------------------------------------------------

    def bus(self, operator: Supplier, bus_type: str = "seater", amenities: Sequence[str] = ("ac",)) -> str:
        """A 40-seat bus of the operator."""
        bus = {"operator_id": operator.id, "registration": f"MH-{uuid.uuid4().hex[:6]}", "bus_type": bus_type,
               "amenities": list(amenities), "seats": SEATS}  # fmt: skip
        return str(call("POST", f"{self.inventory}/v1/buses", operator.headers, bus, 201)["id"])

    def schedule(
        self,
        operator: Supplier,
        bus_id: str,
        departs_at: datetime,
        fare: int,
        route: tuple[str, str] = ("Mumbai", "Goa"),
        hours: float = 10,
    ) -> str:
        """A departure of the operator's bus on ``route``."""
        origin, destination = route
        arrives_at = departs_at + timedelta(hours=hours)
        schedule = {"bus_id": bus_id, "origin": origin, "destination": destination, "fare": inr(fare),
                    "departs_at": departs_at.isoformat(), "arrives_at": arrives_at.isoformat()}  # fmt: skip
        return str(call("POST", f"{self.inventory}/v1/schedules", operator.headers, schedule, 201)["id"])

    def cancel_schedule(self, schedule_id: str) -> None:
        call("POST", f"{self.inventory}/v1/schedules/{schedule_id}/cancel", ADMIN)

    # Hotels ------------------------------------------------------------------------------------------------------

    def hotel(self, owner: Supplier, city: str = "Goa", name: str = "Seaside", stars: int = 4) -> str:
        """An active hotel of the owner."""
        hotel = {"owner_id": owner.id, "name": name, "city": city, "address": "1 Beach Road", "stars": stars,
                 "amenities": ["wifi"]}  # fmt: skip
        return str(call("POST", f"{self.inventory}/v1/hotels", owner.headers, hotel, 201)["id"])

    def change_hotel(self, owner: Supplier, hotel_id: str, **changes: Any) -> None:
        call("PATCH", f"{self.inventory}/v1/hotels/{hotel_id}", owner.headers, changes)

    def room_type(self, owner: Supplier, hotel_id: str, name: str = "Double", capacity: int = 2) -> str:
        kind = {"name": name, "capacity": capacity}
        return str(call("POST", f"{self.inventory}/v1/hotels/{hotel_id}/room-types", owner.headers, kind, 201)["id"])

    def allot(self, owner: Supplier, room_type_id: str, first_night: date, rates: Sequence[int], rooms: int) -> None:
        """``rooms`` rooms on each night from ``first_night``, one night for each of ``rates`` at that rate."""
        for offset, rate in enumerate(rates):
            night = first_night + timedelta(days=offset)
            allotment = {"from": night.isoformat(), "to": (night + timedelta(days=1)).isoformat(), "rooms": rooms,
                         "rate": inr(rate)}  # fmt: skip
            call("PUT", f"{self.inventory}/v1/room-types/{room_type_id}/nights", owner.headers, allotment)


_DECISIONS_TO = {
    "pending": (),
    "approved": ("approve",),
    "rejected": ("reject",),
    "suspended": ("approve", "suspend"),
}


@dataclass
class Search:
    """Search's public API, as a traveller asks it."""

    url: str

    def trip(self, schedule_id: str, **query: Any) -> dict[str, Any] | None:
        """The schedule as bus search lists it for ``query``, or None when it is not listed."""
        return next((trip for trip in self.every_page("buses", **query) if trip["schedule_id"] == schedule_id), None)

    def offer(self, hotel_id: str, **query: Any) -> dict[str, Any] | None:
        """The hotel as hotel search lists it for ``query``, or None when it is not listed."""
        return next((hotel for hotel in self.every_page("hotels", **query) if hotel["hotel_id"] == hotel_id), None)

    def pages(self, kind: str, **query: Any) -> Iterator[dict[str, Any]]:
        """Every page of a search (``buses`` or ``hotels``), following ``next_cursor``."""
        cursor = None
        while True:
            page = self._page(kind, query | ({"cursor": cursor} if cursor else {}))
            yield page
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def every_page(self, kind: str, **query: Any) -> list[dict[str, Any]]:
        """Every item of a search, page after page."""
        return [item for page in self.pages(kind, **query) for item in page["items"]]

    def _page(self, kind: str, query: dict[str, Any]) -> dict[str, Any]:
        response = requests.get(f"{self.url}/v1/search/{kind}", params=query, timeout=20)
        assert response.status_code == 200, f"{kind} {query}: {response.status_code} {response.text}"
        return dict(response.json())


@dataclass
class SearchStack:
    """Inventory's and search's web servers and workers on the session's PostgreSQL and NATS."""

    platform: Platform
    catalogue: Catalogue
    search: Search
    metrics_url: str
    workers: dict[str, Process]

    def caught_up(self, timeout: float = 30) -> None:
        """Until every supply event is published and search has applied it (see ``Platform.wait_until_quiet``);
        bookings' outbox too, where it runs: its commands move seats and rooms."""
        self.platform.wait_until_quiet(
            SERVICES, consumers=(SUPPLY_CONSUMER,), timeout=timeout, what="every supply event applied by search"
        )

    def read_model(self) -> dict[str, list[tuple[object, ...]]]:
        """Every row of every read-model table, in an order of their own so that two dumps compare as sets."""
        return {table: sorted(self.platform.sql("search", f"SELECT * FROM {table}"), key=repr) for table in READ_MODEL}

    def rebuild(self, timeout: float = 60) -> tuple[int, list[dict[str, Any]], str]:
        """Run ``search.entrypoints.cli rebuild`` as an operator would: its exit code, JSON lines and stderr."""
        finished = subprocess.run(
            [sys.executable, "-m", "search.entrypoints.cli", "rebuild", "--timeout", str(timeout)],
            env=self.platform.env,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=False,
        )
        lines = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
        return finished.returncode, lines, finished.stderr

    def projections_measured(self) -> float | None:
        """How many changes the search worker has measured the lag of, every kind of event together; None while
        its metrics are not served yet."""
        try:
            text = requests.get(self.metrics_url, timeout=5).text
        except requests.ConnectionError:
            return None
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == LAG_METRIC
            for sample in family.samples
            if sample.name == f"{LAG_METRIC}_count"
        )

    def reserve(self, booking_id: uuid.UUID, *items: dict[str, Any], hold_seconds: int = 600) -> None:
        """Hold items as bookings' saga would, by sending inventory's reserve command through JetStream."""
        self.send(ReserveInventory.model_validate({"booking_id": booking_id, "items": list(items),
                                                   "hold_seconds": hold_seconds}))  # fmt: skip

    def confirm(self, booking_id: uuid.UUID) -> None:
        """Sell a booking's held items, as bookings' saga would once paid."""
        self.send(ConfirmHold(booking_id=booking_id))

    def send(self, command: Any) -> None:
        """Send a command to inventory through JetStream, as bookings does."""
        envelope = Envelope.wrap(command, source="bookings", correlation_id=str(command.booking_id))

        async def publish(js: JetStreamContext) -> None:
            await js.publish(command.SUBJECT, envelope.to_bytes(), headers={MSG_ID_HEADER: str(envelope.id)})

        on_jetstream(self.platform.env["NATS_URL"], publish)

    def dead_letters(self) -> int:
        """Messages some consumer gave up on."""
        return self.platform.dead_letters()


def start_search(platform: Platform, settings: dict[str, str] | None = None) -> SearchStack:
    """Inventory's web and worker, and search's web and worker beside them."""
    env = QUICK_TIMERS | dict(settings or {})
    with ThreadPoolExecutor(max_workers=2) as pool:
        webs = {service: pool.submit(platform.web, service, **env) for service in ("inventory", "search")}
        inventory_worker = platform.ready_worker("inventory", **env)
        search_worker, metrics_url = _search_worker(platform, env)
        inventory, search = (webs[service].result() for service in ("inventory", "search"))
    workers = {"inventory": inventory_worker, "search": search_worker}
    return SearchStack(platform, Catalogue(inventory), Search(search), metrics_url, workers)


def search_beside(platform: Platform, inventory: str, settings: dict[str, str] | None = None) -> SearchStack:
    """Search's web and worker next to an inventory whose worker is already running at ``inventory``."""
    env = dict(settings or {})
    with ThreadPoolExecutor(max_workers=1) as pool:
        web = pool.submit(platform.web, "search", **env)
        search_worker, metrics_url = _search_worker(platform, env)
        search = web.result()
    return SearchStack(platform, Catalogue(inventory), Search(search), metrics_url, {"search": search_worker})


async def _has_inventory_events(js: JetStreamContext) -> bool:
    return await has_stream(js, "INVENTORY_EVT")


def _search_worker(platform: Platform, env: dict[str, str]) -> tuple[Process, str]:
    """Search's worker, serving its metrics on a port of its own, and their URL.

    Started once inventory's worker has declared its event stream: before, the worker's consumer would wait the
    stream out, pausing longer after each try.
    """
    wait_for(lambda: on_jetstream(platform.env["NATS_URL"], _has_inventory_events), what="inventory's event stream")
    metrics_port = free_port()
    worker = platform.worker("search", **env, WORKER_METRICS_PORT=str(metrics_port))
    return worker, f"http://127.0.0.1:{metrics_port}/metrics"
