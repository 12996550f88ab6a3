"""A thin client of Tripline's public API (the handbook's api.md), as an API client behind the gateway uses it.

One method per endpoint, named in the platform's words; bodies go out and come back as plain JSON. A reply outside
2xx raises ``ApiError`` carrying its problem details, so a caller that expects a refusal catches it and looks at
``status`` and ``code``. Requests that need an ``Idempotency-Key`` get a fresh one unless the caller passes its own.
The last reply's headers (``Location``, ``X-Request-ID``, ``Idempotent-Replayed``) stay readable in ``last_response``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, cast

import requests

Json = dict[str, Any]
TIMEOUT_SECONDS = 40.0


class ApiError(Exception):
    """A reply outside 2xx: its status and problem details (``code``, ``detail``, ``errors``)."""

    def __init__(self, method: str, path: str, status: int, problem: Json, headers: Mapping[str, str] | None = None):
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", ""))
        # Retry-After and X-Request-ID matter to a caller that handles the refusal.
        self.headers: Mapping[str, str] = headers or {}
        super().__init__(f"{method} {path}: {status} {self.code}: {problem.get('detail', '')}")


def money(amount_minor: int, currency: str = "INR") -> Json:
    return {"amount_minor": amount_minor, "currency": currency}


class Tripline:
    """The API as one account sees it: ``token`` is its bearer token (None for search, which needs none)."""

    def __init__(self, base_url: str, token: str | None = None, *, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        # A session keeps connections open between calls; one per thread, as requests' sessions are not shared.
        self.session = session or requests.Session()
        self.last_response: requests.Response | None = None

    def as_account(self, token: str | None) -> Tripline:
        """The same gateway as another account, on its own connections."""
        return Tripline(self.base_url, token)

    # Transport -----------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        """One call; its JSON body ({} when empty), or ApiError when the status is not 2xx."""
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        response = self.session.request(
            method, self.base_url + path, json=body, params=params, headers=sent, timeout=TIMEOUT_SECONDS
        )
        self.last_response = response
        if not response.ok:
            raise ApiError(method, path, response.status_code, _problem(response), response.headers)
        return cast(Json, response.json()) if response.content else {}

    def _once(self, method: str, path: str, body: Any, idempotency_key: str | None) -> Json:
        key = idempotency_key or str(uuid.uuid4())
        return self.request(method, path, body, headers={"Idempotency-Key": key})

    # The gateway itself -------------------------------------------------------------------------------------------

    def gateway_health(self) -> Json:
        return self.request("GET", "/healthz")

    def openapi(self, service: str) -> Json:
        """The service's OpenAPI document, as the gateway publishes it."""
        return self.request("GET", f"/openapi/{service}.json")

    # Suppliers and their approval ------------------------------------------------------------------------------

    def register_operator(self, name: str, contact_email: str) -> Json:
        return self.request("POST", "/v1/operators", {"name": name, "contact_email": contact_email})

    def register_property_owner(self, name: str, contact_email: str) -> Json:
        body = {"name": name, "contact_email": contact_email}
        return self.request("POST", "/v1/property-owners", body)

    def supplier(self, collection: str, supplier_id: str) -> Json:
        """An operator (``collection="operators"``) or property owner (``"property-owners"``)."""
        return self.request("GET", f"/v1/{collection}/{supplier_id}")

    def suppliers(self, collection: str, approval_status: str | None = None, **page: Any) -> Json:
        params = {"approval_status": approval_status, **page} if approval_status else page
        return self.request("GET", f"/v1/{collection}", params=params)

    def decide(self, collection: str, supplier_id: str, decision: str, **reason: str) -> Json:
        """An admin's decision: ``approve`` (note=), ``reject`` or ``suspend`` (reason=)."""
        return self.request("POST", f"/v1/{collection}/{supplier_id}/{decision}", reason)

    # Buses and departures ----------------------------------------------------------------------------------------

    def add_bus(self, operator_id: str, registration: str, seats: list[str], **details: Any) -> Json:
        body = {"operator_id": operator_id, "registration": registration, "bus_type": "seater", "amenities": []}
        return self.request("POST", "/v1/buses", body | details | {"seats": seats})

    def bus(self, bus_id: str) -> Json:
        return self.request("GET", f"/v1/buses/{bus_id}")

    def add_schedule(self, bus_id: str, route: tuple[str, str], departs_at: datetime, hours: float, fare: Json) -> Json:
        """A departure of the bus on ``route`` (origin, destination), arriving ``hours`` after it leaves."""
        origin, destination = route
        arrives_at = departs_at + timedelta(hours=hours)
        body = {"bus_id": bus_id, "origin": origin, "destination": destination, "departs_at": departs_at.isoformat(),
                "arrives_at": arrives_at.isoformat(), "fare": fare}  # fmt: skip
        return self.request("POST", "/v1/schedules", body)

    def schedule(self, schedule_id: str) -> Json:
        return self.request("GET", f"/v1/schedules/{schedule_id}")

    def cancel_schedule(self, schedule_id: str) -> Json:
        return self.request("POST", f"/v1/schedules/{schedule_id}/cancel")

    # Hotels, room types and nights ---------------------------------------------------------------------------------

    def add_hotel(self, owner_id: str, name: str, city: str, stars: int, **details: Any) -> Json:
        body = {"owner_id": owner_id, "name": name, "city": city, "address": f"1 {name} Road", "stars": stars}
        return self.request("POST", "/v1/hotels", body | details)

    def hotel(self, hotel_id: str) -> Json:
        return self.request("GET", f"/v1/hotels/{hotel_id}")

    def update_hotel(self, hotel_id: str, **changes: Any) -> Json:
        return self.request("PATCH", f"/v1/hotels/{hotel_id}", changes)

    def add_room_type(self, hotel_id: str, name: str, capacity: int, amenities: list[str] | None = None) -> Json:
        body = {"name": name, "capacity": capacity, "amenities": amenities or []}
        return self.request("POST", f"/v1/hotels/{hotel_id}/room-types", body)

    def set_nights(self, room_type_id: str, start: date, end: date, rooms: int, rate: Json) -> list[Json]:
        """Allot ``rooms`` rooms at ``rate`` on each night in [start, end)."""
        body = {"from": start.isoformat(), "to": end.isoformat(), "rooms": rooms, "rate": rate}
        return _items(self.request("PUT", f"/v1/room-types/{room_type_id}/nights", body))

    def nights(self, room_type_id: str, start: date, end: date) -> list[Json]:
        params = {"from": start.isoformat(), "to": end.isoformat()}
        return _items(self.request("GET", f"/v1/room-types/{room_type_id}/nights", params=params))

    # Search --------------------------------------------------------------------------------------------------

    def search_buses(self, origin: str, destination: str, on: date, **criteria: Any) -> Json:
        params = {"origin": origin, "destination": destination, "date": on.isoformat(), **criteria}
        return self.request("GET", "/v1/search/buses", params=params)

    def search_hotels(self, city: str, check_in: date, check_out: date, **criteria: Any) -> Json:
        params = {"city": city, "check_in": check_in.isoformat(), "check_out": check_out.isoformat(), **criteria}
        return self.request("GET", "/v1/search/hotels", params=params)

    # Wallets ---------------------------------------------------------------------------------------------------

    def wallet(self, customer_id: str | None = None) -> Json:
        """The caller's wallet, or (as an admin) a customer's."""
        return self.request("GET", f"/v1/wallets/{customer_id or 'me'}")

    def transactions(self, customer_id: str | None = None, **page: Any) -> Json:
        return self.request("GET", f"/v1/wallets/{customer_id or 'me'}/transactions", params=page)

    def top_up(self, amount: Json, *, idempotency_key: str | None = None) -> Json:
        return self._once("POST", "/v1/wallets/me/top-ups", {"amount": amount}, idempotency_key)

    def credit(self, customer_id: str, amount: Json, reason: str, *, idempotency_key: str | None = None) -> Json:
        body = {"amount": amount, "reason": reason}
        return self._once("POST", f"/v1/wallets/{customer_id}/credits", body, idempotency_key)

    # Bookings --------------------------------------------------------------------------------------------------

    def book(self, *items: Json, pay: bool = True, idempotency_key: str | None = None) -> Json:
        """Place a booking; with ``pay`` it is paid from the wallet as soon as it is reserved."""
        body: Json = {"items": list(items)}
        if pay:
            body["payment"] = {"method": "wallet"}
        return self._once("POST", "/v1/bookings", body, idempotency_key)

    def booking(self, booking_id: str, wait: float = 0) -> Json:
        """The booking; with ``wait``, once it is no longer in a transitional status or after that many seconds."""
        params = {"wait": wait} if wait else None
        return self.request("GET", f"/v1/bookings/{booking_id}", params=params)

    def history(self, booking_id: str) -> list[Json]:
        return _items(self.request("GET", f"/v1/bookings/{booking_id}/history"))

    def bookings(self, **filters: Any) -> Json:
        return self.request("GET", "/v1/bookings", params=filters)

    def pay(self, booking_id: str, *, idempotency_key: str | None = None) -> Json:
        return self._once("POST", f"/v1/bookings/{booking_id}/pay", {"method": "wallet"}, idempotency_key)

    def cancel(self, booking_id: str, reason: str = "plans changed", *, idempotency_key: str | None = None) -> Json:
        return self._once("POST", f"/v1/bookings/{booking_id}/cancel", {"reason": reason}, idempotency_key)

    def retry(self, booking_id: str) -> Json:
        return self.request("POST", f"/v1/bookings/{booking_id}/retry")

    def delete_booking(self, booking_id: str) -> None:
        self.request("DELETE", f"/v1/bookings/{booking_id}")


def seat_labels(rows: int = 10, letters: str = "ABCD") -> list[str]:
    """A coach's seat labels, row by row: ``1A, 1B, … 10D`` (40 seats by default)."""
    return [f"{row}{letter}" for row in range(1, rows + 1) for letter in letters]


def bus_seats(schedule_id: str, seats: list[str], passengers: list[Json] | None = None) -> Json:
    """A booking item of seats on a departure, with a passenger for each seat unless given."""
    travellers = passengers or [{"name": f"Traveller {seat}", "age": 30} for seat in seats]
    return {"type": "bus_seats", "schedule_id": schedule_id, "seats": seats, "passengers": travellers}


def hotel_rooms(room_type_id: str, check_in: date, check_out: date, rooms: int = 1, guests: int = 1) -> Json:
    """A booking item of rooms of one room type for the nights in [check_in, check_out)."""
    return {"type": "hotel_rooms", "room_type_id": room_type_id, "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(), "rooms": rooms, "guests": guests}  # fmt: skip


def _items(page: Json) -> list[Json]:
    return cast(list[Json], page["items"])


def _problem(response: requests.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        return {"code": "", "detail": response.text[:200]}
    return body if isinstance(body, dict) else {"code": "", "detail": str(body)[:200]}
