"""A narrated walk-through of Tripline against a running stack, as its users meet it: ``make demo``.

Every run signs up accounts of its own (operator, owner, traveller) and puts fresh supply on sale, so it needs
none of the seeded data and can run again and again. It speaks only to the gateway, through ``Tripline``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import requests

from bookings.domain.lifecycle import TRANSITIONAL
from tripline.auth.tokens import issue_dev_token
from tripline_ops.client import ApiError, Json, Tripline, bus_seats, hotel_rooms, money, seat_labels

CURRENCY = "INR"
SYMBOLS = {"INR": "₹"}
SEATS = seat_labels()
FARE_MINOR = 90_000
RATE_MINOR = 450_000
TOP_UP_MINOR = 1_200_000
ROUTE = ("Mumbai", "Goa")
# Over a day ahead, so cancelling gets the full refund; the stay starts the day the bus arrives.
DEPARTS_IN = timedelta(hours=30)
TRIP_HOURS = 10
NIGHTS_ON_SALE, NIGHTS_BOOKED = 7, 2
SEARCH_PATIENCE_SECONDS = 10.0
SEARCH_POLL_SECONDS = 0.5
# How long the demo follows a booking through the saga before calling it stuck.
FOLLOW_SECONDS = 60.0
WAIT_SECONDS = 10
PAGES_SCANNED = 10


class DemoStopped(Exception):
    """The platform answered, but not as the walk-through expects."""


class Narration:
    """Prints the story: numbered steps, each followed by its key facts; remembers the step under way."""

    def __init__(self) -> None:
        self.number = 0
        self.title = "reach the gateway"

    def step(self, title: str) -> None:
        self.number += 1
        self.title = title
        print(f"\n{self.number}. {title}", flush=True)

    def fact(self, text: str) -> None:
        print(f"   {text}", flush=True)

    @property
    def current(self) -> str:
        return f"step {self.number} ({self.title.rstrip('.')})" if self.number else self.title


@dataclass(frozen=True)
class Cast:
    """This run's accounts, each with its own view of the API."""

    tag: str
    admin: Tripline
    operator: Tripline
    owner: Tripline
    traveller: Tripline


@dataclass(frozen=True)
class Departure:
    schedule_id: str
    departs_at: datetime
    arrives_at: datetime


@dataclass(frozen=True)
class Stay:
    hotel_id: str
    room_type_id: str
    check_in: date
    check_out: date


# Formatting ------------------------------------------------------------------------------------------------------


def short(identifier: str | None) -> str:
    return (identifier or "-")[:8]


def amount(value: Json) -> str:
    """Money from minor units: ``₹1,234.50``."""
    minor, currency = int(value["amount_minor"]), str(value["currency"])
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    symbol = SYMBOLS.get(currency, f"{currency} ")
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


def moment(value: datetime | str) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC).strftime("%a %d %b %H:%M UTC")


def clock(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%H:%M:%S")


# The story -------------------------------------------------------------------------------------------------------


def walk_through(gateway: str, say: Narration) -> None:
    Tripline(gateway).request("GET", "/healthz")
    cast = assemble_cast(gateway)
    departure = put_bus_on_sale(cast, say)
    stay = put_hotel_on_sale(cast, say, departure.arrives_at.date())
    search_as_traveller(cast.traveller.as_account(None), say, departure, stay)
    trip = book_trip(cast.traveller, say, departure, stay)
    book_now_pay_later(cast.traveller, say, departure)
    cancel_trip(cast.traveller, say, trip)
    show_history(cast.traveller, say, trip)
    sign_off(gateway)


def assemble_cast(gateway: str) -> Cast:
    tag = uuid.uuid4().hex[:6]
    try:
        tokens = {role: issue_dev_token(f"demo-{role}-{tag}", role) for role in ("admin", "operator", "owner")}
        tokens["customer"] = issue_dev_token(f"traveller-{tag}", "customer")
    except (RuntimeError, ValueError) as error:
        raise DemoStopped(f"cannot issue development tokens: {error}") from None
    admin, operator, owner, traveller = (Tripline(gateway, tokens[role]) for role in tokens)
    return Cast(tag, admin, operator, owner, traveller)


def put_bus_on_sale(cast: Cast, say: Narration) -> Departure:
    say.step("An operator signs up; an admin approves it; it puts a bus and a departure on sale.")
    name = f"Konkan Coastliner {cast.tag}"
    operator = cast.operator.register_operator(name, f"ops-{cast.tag}@coastliner.example")
    say.fact(f"operator {name} ({short(operator['id'])}): {operator['approval_status']}")
    approved = cast.admin.decide("operators", operator["id"], "approve", note="papers checked")
    say.fact(f"an admin approves it: {approved['approval_status']}")
    bus = cast.operator.add_bus(operator["id"], f"MH-02-{cast.tag.upper()}", SEATS, amenities=["ac", "wifi"])
    say.fact(f"bus {bus['registration']} ({short(bus['id'])}) with {len(SEATS)} seats")
    departs_at = (datetime.now(UTC) + DEPARTS_IN).replace(second=0, microsecond=0)
    schedule = cast.operator.add_schedule(bus["id"], ROUTE, departs_at, TRIP_HOURS, money(FARE_MINOR, CURRENCY))
    say.fact(
        f"departure {' → '.join(ROUTE)} ({short(schedule['id'])}) leaves {moment(schedule['departs_at'])}, "
        f"fare {amount(schedule['fare'])}, {schedule['available_seats']} seats free"
    )
    return Departure(schedule["id"], departs_at, departs_at + timedelta(hours=TRIP_HOURS))


def put_hotel_on_sale(cast: Cast, say: Narration, first_night: date) -> Stay:
    say.step("A property owner signs up, is approved, and lists a hotel with a room type and a week of nights.")
    name = f"Coastal Stays {cast.tag}"
    owner = cast.owner.register_property_owner(name, f"desk-{cast.tag}@coastal.example")
    say.fact(f"owner {name} ({short(owner['id'])}): {owner['approval_status']}")
    approved = cast.admin.decide("property-owners", owner["id"], "approve", note="papers checked")
    say.fact(f"an admin approves it: {approved['approval_status']}")
    hotel_name = f"Palm Shore {cast.tag}"
    hotel = cast.owner.add_hotel(owner["id"], hotel_name, ROUTE[1], 4, amenities=["wifi", "pool"])
    room_type = cast.owner.add_room_type(hotel["id"], "Deluxe", 2, ["ac"])
    last = first_night + timedelta(days=NIGHTS_ON_SALE)
    nights = cast.owner.set_nights(room_type["id"], first_night, last, 5, money(RATE_MINOR, CURRENCY))
    say.fact(f"hotel {hotel_name} in {hotel['city']} ({short(hotel['id'])}), {hotel['stars']} stars")
    say.fact(
        f"room type Deluxe ({short(room_type['id'])}): 5 rooms a night at {amount(nights[0]['rate'])}, "
        f"{len(nights)} nights from {first_night.isoformat()}"
    )
    check_out = first_night + timedelta(days=NIGHTS_BOOKED)
    return Stay(hotel["id"], room_type["id"], first_night, check_out)


def search_as_traveller(anonymous: Tripline, say: Narration, departure: Departure, stay: Stay) -> None:
    say.step("A traveller searches buses and hotels (searching needs no account).")
    trip, hotel = caught_up(say, lambda: search_results(anonymous, departure, stay))
    if trip is None or hotel is None:
        say.fact("search has not caught up yet; bookings go to inventory, the source of truth, all the same")
        return
    say.fact(
        f"bus {' → '.join(ROUTE)}: {trip['operator']['name']}, leaves {moment(trip['departs_at'])}, "
        f"{trip['duration_minutes'] // 60} h, {amount(trip['fare'])}, {trip['available_seats']} seats free"
    )
    room = hotel["room_types"][0]
    say.fact(
        f"hotel in {hotel['city']}: {hotel['name']}, {room['name']} for {NIGHTS_BOOKED} nights from "
        f"{stay.check_in.isoformat()}: {amount(room['total_price'])}, {room['available_rooms']} rooms free"
    )


Found = tuple[Json | None, Json | None]


def search_results(anonymous: Tripline, departure: Departure, stay: Stay) -> Found:
    """This run's departure and hotel as search lists them, or None where it does not (yet)."""

    def departures(page: Json) -> Json:
        return anonymous.search_buses(*ROUTE, departure.departs_at.date(), seats=1, **page)

    def hotels(page: Json) -> Json:
        return anonymous.search_hotels(ROUTE[1], stay.check_in, stay.check_out, guests=2, **page)

    return find(departures, "schedule_id", departure.schedule_id), find(hotels, "hotel_id", stay.hotel_id)


def find(search: Callable[[Json], Json], key: str, wanted: str) -> Json | None:
    """The item whose ``key`` is ``wanted``, looking through the first pages (seeded data may come first)."""
    page: Json = {"limit": 100}
    for _ in range(PAGES_SCANNED):
        listing = search(page)
        match = next((item for item in listing["items"] if item[key] == wanted), None)
        if match is not None or not listing.get("next_cursor"):
            return match
        page = {"limit": 100, "cursor": listing["next_cursor"]}
    return None


def caught_up(say: Narration, look: Callable[[], Found]) -> Found:
    """What ``look`` finds once it finds everything, or after SEARCH_PATIENCE_SECONDS."""
    deadline = time.monotonic() + SEARCH_PATIENCE_SECONDS
    found = look()
    if all(item is not None for item in found):
        return found
    say.fact("waiting for search to catch up…")
    while not all(item is not None for item in found) and time.monotonic() < deadline:
        time.sleep(SEARCH_POLL_SECONDS)
        found = look()
    return found


def book_trip(traveller: Tripline, say: Narration, departure: Departure, stay: Stay) -> Json:
    say.step(f"The traveller tops up the wallet, then books seat {SEATS[0]} and {NIGHTS_BOOKED} nights in one go.")
    top_up = traveller.top_up(money(TOP_UP_MINOR, CURRENCY))
    say.fact(f"top-up {amount(top_up['amount'])}: balance {amount(top_up['balance_after'])}")
    seat = bus_seats(departure.schedule_id, [SEATS[0]], [{"name": "Asha", "age": 31}])
    rooms = hotel_rooms(stay.room_type_id, stay.check_in, stay.check_out, guests=2)
    placed = traveller.book(seat, rooms, pay=True)
    say.fact(f"booking {short(placed['id'])}: {placed['status']}, paid from the wallet once reserved")
    booking = settled(traveller, placed["id"], "confirmed")
    say.fact(f"booking {short(booking['id'])}: {booking['status']}, total {amount(booking['total'])}")
    for item in booking["items"]:
        say.fact(f"  {describe_item(item)}: {amount(item['price'])}")
    show_wallet(traveller, say)
    return booking


def describe_item(item: Json) -> str:
    if item["type"] == "bus_seats":
        return f"seat {', '.join(item['seats'])} on {short(item['schedule_id'])}"
    return f"{item['rooms']} room, check-in {item['check_in']}, check-out {item['check_out']}"


def book_now_pay_later(traveller: Tripline, say: Narration, departure: Departure) -> None:
    say.step(f"The traveller holds seat {SEATS[1]} without paying, then pays for it.")
    placed = traveller.book(bus_seats(departure.schedule_id, [SEATS[1]]), pay=False)
    held = settled(traveller, placed["id"], "reserved")
    say.fact(f"booking {short(held['id'])}: {held['status']} until {moment(held['expires_at'])}")
    paying = traveller.pay(held["id"])
    say.fact(f"pays: {paying['status']}")
    paid = settled(traveller, held["id"], "confirmed")
    say.fact(f"booking {short(paid['id'])}: {paid['status']}, {amount(paid['total'])}")
    say.fact(f"wallet balance {amount(traveller.wallet()['balance'])}")


def cancel_trip(traveller: Tripline, say: Narration, trip: Json) -> None:
    say.step(f"The traveller cancels booking {short(trip['id'])}, over 24 h ahead: a full refund.")
    cancelling = traveller.cancel(trip["id"], "plans changed")
    say.fact(f"booking {short(trip['id'])}: {cancelling['status']}")
    cancelled = settled(traveller, trip["id"], "cancelled")
    refund = cancelled["refund"] or money(0, CURRENCY)
    say.fact(f"booking {short(trip['id'])}: {cancelled['status']}, refund {amount(refund)} of {amount(trip['total'])}")
    show_wallet(traveller, say)


def show_history(traveller: Tripline, say: Narration, trip: Json) -> None:
    say.step(f"Booking {short(trip['id'])}'s history, as the saga moved it along.")
    for change in traveller.history(trip["id"]):
        since = change["from"] or "(new)"
        reason = f"  ({change['reason']})" if change.get("reason") else ""
        say.fact(f"{clock(change['at'])}  {since} → {change['to']}{reason}")


def show_wallet(traveller: Tripline, say: Narration) -> None:
    say.fact(f"wallet balance {amount(traveller.wallet()['balance'])}; transactions, newest first:")
    for entry in traveller.transactions(limit=10)["items"]:
        booking = f" for booking {short(entry['booking_id'])}" if entry.get("booking_id") else ""
        kind = str(entry["kind"]).replace("_", "-")
        say.fact(f"  {kind:<7} {amount(entry['amount']):>12}{booking}, balance {amount(entry['balance_after'])}")


def settled(traveller: Tripline, booking_id: str, expected: str) -> Json:
    """The booking once the saga has moved it as far as it goes; DemoStopped unless it is ``expected``."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    booking = traveller.booking(booking_id, wait=WAIT_SECONDS)
    while in_motion(booking) and time.monotonic() < deadline:
        booking = traveller.booking(booking_id, wait=WAIT_SECONDS)
    if booking["status"] != expected:
        failure = booking.get("failure") or {}
        why = f" ({failure.get('code')}: {failure.get('message')})" if failure else ""
        raise DemoStopped(f"booking {short(booking_id)} is {booking['status']}, not {expected}{why}")
    return booking


def in_motion(booking: Json) -> bool:
    """Still moving: transitional, or reserved with a payment on its way (a declined one records a failure)."""
    if booking["status"] in TRANSITIONAL:
        return True
    return booking["status"] == "reserved" and bool(booking.get("payment")) and not booking.get("failure")


def sign_off(gateway: str) -> None:
    print("\nThat's the tour. `make up` also seeded more to explore: buses Mumbai ⇄ Goa and Pune → Bengaluru,")
    print("hotels in Goa and Bengaluru, and accounts demo-customer, demo-operator, demo-owner and demo-admin.")
    print(f"Gateway: {gateway}   A token: make token SUB=demo-customer ROLE=customer", flush=True)


# Command line ----------------------------------------------------------------------------------------------------


def default_gateway() -> str:
    return f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT') or 8080}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tripline_ops.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=default_gateway(), help="the gateway's URL (default: %(default)s)")
    gateway = parser.parse_args(argv).gateway.rstrip("/")
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A terminal without UTF-8 shows "?" for the rupee sign rather than stopping the tour.
        sys.stdout.reconfigure(errors="replace")
    say = Narration()
    try:
        walk_through(gateway, say)
    except requests.ConnectionError:
        if say.number:  # it answered before: it went away during the tour
            return stop(f"{say.current} failed: lost the gateway at {gateway}")
        return stop(f"no gateway at {gateway}: start the platform with make up")
    except requests.Timeout:
        return stop(f"{say.current} failed: the gateway at {gateway} did not answer in time")
    except ApiError as error:
        return stop(f"{say.current} failed: {error}")
    except DemoStopped as error:
        return stop(f"{say.current} failed: {error}")
    return 0


def stop(message: str) -> int:
    print(message, file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
