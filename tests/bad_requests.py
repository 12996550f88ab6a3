"""Sending the gateway requests no well-behaved client sends, and telling that nothing came of them.

``put_on_sale`` makes the little the bad requests aim at; ``Bad`` is one such request, written before the supply
exists (its path names the supply's ids, its body may be a function of the supply). ``footprint`` counts what the
platform has written: the rows of every table of every service and the messages of every JetStream stream, which
a refused request leaves as they were. ``assert_problem`` checks an answer is the contract's problem details and
gives nothing of the server away.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from nats.js import JetStreamContext

from tripline.auth.tokens import issue_dev_token
from tripline.settings import AuthSettings
from tripline_ops.client import bus_seats, money

from .platform import SERVICES, Platform, on_jetstream
from .whole_platform import WholePlatform

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "code")
# What a body must never show a client: a stack trace, or the names of the libraries underneath.
LEAKS = ("Traceback", "psycopg", "sqlalchemy", "pydantic", 'File "')
TIMEOUT_SECONDS = 40
FARE = 90_000
RATE = 450_000
# Who sends the bad requests: the supply's own accounts, and some that own nothing of it.
ACCOUNTS = {"asha": "customer", "ravi": "customer", "konkan": "operator", "rival": "operator",
            "newcomer": "operator", "seaside": "owner", "lakeside": "owner", "ops": "admin"}  # fmt: skip


# The supply ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Supply:
    """What the bad requests aim at: one of each thing, and a few that belong to somebody else."""

    operator_id: str
    bus_id: str
    schedule_id: str
    other_operator_id: str  # rival's, not approved
    other_bus_id: str  # rival's
    owner_id: str
    hotel_id: str
    room_type_id: str
    booking_id: str  # asha's, confirmed
    stay: date  # the first night the room type has rooms

    def ids(self) -> dict[str, str]:
        """The ids a request's path may name, and ``missing``: an id nothing has."""
        named = {item.name: str(getattr(self, item.name)) for item in fields(self)}
        return named | {"missing": str(uuid.uuid4())}


@dataclass(frozen=True)
class Target:
    """Where the bad requests go: the gateway, the platform behind it, and what it sells."""

    gateway: str
    platform: Platform
    supply: Supply


def put_on_sale(whole: WholePlatform) -> Supply:
    """An approved operator's departure, a rival's bus, an approved owner's hotel with nights, and one booking."""
    admin = whole.admin()
    konkan = whole.client("konkan", "operator")
    operator_id = konkan.register_operator("Konkan Travels", "ops@konkan.example")["id"]
    admin.decide("operators", operator_id, "approve", note="papers in order")
    bus_id = konkan.add_bus(operator_id, "MH-01-AB-1234", ["1A", "1B", "1C", "1D"])["id"]
    departs_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    schedule_id = konkan.add_schedule(bus_id, ("Mumbai", "Goa"), departs_at, 10, money(FARE))["id"]

    rival = whole.client("rival", "operator")
    other_operator_id = rival.register_operator("Rival Roadways", "ops@rival.example")["id"]
    other_bus_id = rival.add_bus(other_operator_id, "GA-07-ZZ-0001", ["1A"])["id"]

    seaside = whole.client("seaside", "owner")
    owner_id = seaside.register_property_owner("Seaside Stays", "desk@seaside.example")["id"]
    admin.decide("property-owners", owner_id, "approve", note="visited")
    hotel_id = seaside.add_hotel(owner_id, "Seaside Inn", "Goa", 4, amenities=["wifi"])["id"]
    room_type_id = seaside.add_room_type(hotel_id, "Deluxe", 2)["id"]
    stay = (departs_at + timedelta(days=1)).date()
    seaside.set_nights(room_type_id, stay, stay + timedelta(days=5), 5, money(RATE))

    asha = whole.client("asha", "customer")
    asha.top_up(money(1_000_000))
    booking_id = asha.book(bus_seats(schedule_id, ["1A"]))["id"]
    assert asha.booking(booking_id, wait=20)["status"] == "confirmed"
    return Supply(operator_id, bus_id, schedule_id, other_operator_id, other_bus_id, owner_id, hotel_id,
                  room_type_id, booking_id, stay)  # fmt: skip


# Valid bodies, for the cases to spoil ----------------------------------------------------------------------------


def seat_item(s: Supply, **changed: Any) -> dict[str, Any]:
    item = {"type": "bus_seats", "schedule_id": s.schedule_id, "seats": ["1B"], "passengers": [RAVI]}
    return item | changed


def room_item(s: Supply, **changed: Any) -> dict[str, Any]:
    nights = {"check_in": s.stay.isoformat(), "check_out": (s.stay + timedelta(days=1)).isoformat()}
    return {"type": "hotel_rooms", "room_type_id": s.room_type_id, **nights, "rooms": 1, "guests": 2} | changed


def booking(*items: dict[str, Any], **changed: Any) -> dict[str, Any]:
    return {"items": list(items), "payment": {"method": "wallet"}} | changed


def new_schedule(s: Supply, **changed: Any) -> dict[str, Any]:
    departs_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    times = {"departs_at": departs_at.isoformat(), "arrives_at": (departs_at + timedelta(hours=4)).isoformat()}
    return {"bus_id": s.bus_id, "origin": "Mumbai", "destination": "Pune", **times, "fare": money(FARE)} | changed


def new_bus(operator_id: str, **changed: Any) -> dict[str, Any]:
    return {
        "operator_id": operator_id,
        "registration": "MH-09-XY-0001",
        "bus_type": "seater",
        "seats": ["1A"],
    } | changed


def new_hotel(owner_id: str) -> dict[str, Any]:
    return {"owner_id": owner_id, "name": "Lake View", "city": "Goa", "address": "2 Lake Road", "stars": 3}


def nights(s: Supply, **changed: Any) -> dict[str, Any]:
    start = s.stay + timedelta(days=10)
    body = {"from": start.isoformat(), "to": (start + timedelta(days=2)).isoformat(), "rooms": 3, "rate": money(RATE)}
    return body | changed


def top_up(amount_minor: Any = 50_000, currency: Any = "INR") -> dict[str, Any]:
    return {"amount": {"amount_minor": amount_minor, "currency": currency}}


def credit(amount_minor: Any = 50_000, currency: Any = "INR", reason: Any = "goodwill") -> dict[str, Any]:
    return top_up(amount_minor, currency) | {"reason": reason}


RAVI = {"name": "Ravi", "age": 33}


def with_seats(**changed: Any) -> Callable[[Supply], dict[str, Any]]:
    """A booking of a seat item spoilt by ``changed``."""
    return lambda s: booking(seat_item(s, **changed))


def with_rooms(**changed: Any) -> Callable[[Supply], dict[str, Any]]:
    """A booking of a hotel item spoilt by ``changed``."""
    return lambda s: booking(room_item(s, **changed))


def schedule_with(**changed: Any) -> Callable[[Supply], dict[str, Any]]:
    return lambda s: new_schedule(s, **changed)


def nights_with(**changed: Any) -> Callable[[Supply], dict[str, Any]]:
    return lambda s: nights(s, **changed)


# Tokens ----------------------------------------------------------------------------------------------------------


def claims(sub: str = "mallory", role: str = "customer", **changed: Any) -> dict[str, Any]:
    """A development token's claims as the platform issues them, but for ``changed`` (None leaves one out)."""
    settings = AuthSettings()
    now = int(time.time())
    issued = {"sub": sub, "role": role, "iss": settings.issuer, "aud": settings.audience, "iat": now, "exp": now + 3600}
    return {name: value for name, value in (issued | changed).items() if value is not None}


def forged_token(payload: Mapping[str, Any], *, secret: str | None = None, algorithm: str = "HS256") -> str:
    """A JWT of ``payload``, signed with the platform's development secret unless another is given.

    Signed by hand: a JWT library refuses to make some of these (HS512 with a key shorter than its hash).
    """
    signed = f"{_segment({'alg': algorithm, 'typ': 'JWT'})}.{_segment(payload)}"
    if algorithm == "none":
        return f"{signed}."
    key = (secret if secret is not None else AuthSettings().secret.get_secret_value()).encode()
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    return f"{signed}.{_base64url(hmac.new(key, signed.encode(), digest).digest())}"


def _segment(document: Mapping[str, Any]) -> str:
    return _base64url(json.dumps(dict(document), separators=(",", ":")).encode())


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Requests and answers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One request the gateway must refuse, and the problem the client gets back."""

    method: str
    path: str  # may name the supply's ids: "/v1/bookings/{booking_id}", "/v1/hotels/{missing}"
    status: int
    code: str
    field_name: str | None = None  # the field ``errors`` must name
    by: str | None = None  # one of ACCOUNTS, or None: no token (or the one ``headers`` carries)
    body: Any = None  # sent as JSON: the document, or a function of the supply giving it
    raw: Any = None  # sent as they are: bytes, text, an iterator of bytes (chunked), or a function giving them
    content_type: str = "application/json"  # of ``raw``
    key: bool = False  # with a fresh Idempotency-Key
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    # An idempotent request's 404 is an answer kept for the key's retries: the one row it may add, in this service.
    keeps_answer_in: str | None = None

    def send(self, gateway: str, supply: Supply) -> requests.Response:
        """Send it through the gateway, its ids, body and credentials made for this supply and this moment."""
        body = self.body(supply) if callable(self.body) else self.body
        raw = self.raw(supply) if callable(self.raw) else self.raw
        return requests.request(
            self.method,
            gateway + self.path.format(**supply.ids()),
            json=body,
            data=raw,
            params=self.params,
            headers=self._headers(),
            timeout=TIMEOUT_SECONDS,
        )

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.by is not None:
            headers["Authorization"] = f"Bearer {issue_dev_token(self.by, ACCOUNTS[self.by])}"
        if self.key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        if self.raw is not None:
            headers["Content-Type"] = self.content_type
        return headers | dict(self.headers() if callable(self.headers) else self.headers)


def case(
    name: str, method: str, path: str, status: int, code: str, field_name: str | None = None, **details: Any
) -> Any:
    """One parametrized case: a ``Bad`` request and its readable id."""
    return pytest.param(Bad(method, path, status, code, field_name, **details), id=name)


def read(name: str, path: str, by: str, status: int = 404, code: str = "not_found", **details: Any) -> Any:
    """A GET case, by default one that must find nothing."""
    return case(name, "GET", path, status, code, by=by, **details)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint as one account calls it: its cases are named ``<prefix>-<name>``."""

    method: str
    path: str
    prefix: str
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def refuses(self, name: str, status: int, code: str, field_name: str | None = None, **details: Any) -> Any:
        path = details.pop("path", self.path)
        return case(
            f"{self.prefix}-{name}", self.method, path, status, code, field_name, **(dict(self.fixed) | details)
        )

    def invalid(self, name: str, field_name: str, **details: Any) -> Any:
        """A 400 ``validation_failed`` naming ``field_name``."""
        return self.refuses(name, 400, "validation_failed", field_name, **details)


def assert_problem(response: requests.Response, status: int, code: str, named: str | None = None) -> dict[str, Any]:
    """The answer is problem details of ``status`` and ``code`` (naming ``named``), with a request id and no leak."""
    shown = f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}"
    assert response.status_code == status, shown
    assert response.headers.get("Content-Type", "").split(";")[0].strip() == PROBLEM_CONTENT_TYPE, shown
    assert response.headers.get("X-Request-ID"), shown
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), f"{leak!r} in {shown}"
    problem: dict[str, Any] = response.json()
    assert set(PROBLEM_MEMBERS) <= set(problem), shown
    assert (problem["status"], problem["code"], problem["type"]) == (status, code, f"urn:tripline:problem:{code}")
    assert problem["title"], shown
    assert problem["detail"], shown
    if named is not None:
        fields_named = [error["field"] for error in problem.get("errors", [])]
        assert named in fields_named, f"{named!r} not among {fields_named}: {shown}"
    return problem


# What was written ------------------------------------------------------------------------------------------------


def footprint(platform: Platform) -> dict[str, int]:
    """Rows per table of every service's database, messages and last sequence per stream: what a write changes."""
    counts: dict[str, int] = {}
    for service in SERVICES:
        counts |= {f"{service}.{table}": rows for table, rows in _row_counts(platform, service).items()}
    return counts | on_jetstream(platform.env["NATS_URL"], _stream_counts)


def changes(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, tuple[int | None, int | None]]:
    """Each count that differs, as (before, after)."""
    names = sorted(set(before) | set(after))
    return {name: (before.get(name), after.get(name)) for name in names if before.get(name) != after.get(name)}


def _row_counts(platform: Platform, service: str) -> dict[str, int]:
    listed = platform.sql(service, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    # One statement per database: every count from the same snapshot.
    query = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for (table,) in listed)
    return {str(table): int(str(rows)) for table, rows in platform.sql(service, query)} if listed else {}


async def _stream_counts(js: JetStreamContext) -> dict[str, int]:
    # The last sequence too: a command stream keeps no message once its consumer has taken it.
    counts = {}
    for stream in await js.streams_info():
        counts[f"stream {stream.config.name} messages"] = int(stream.state.messages)
        counts[f"stream {stream.config.name} last_seq"] = int(stream.state.last_seq)
    return counts
