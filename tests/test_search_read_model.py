"""Search's read model across the real services: inventory and search as workers and web servers on PostgreSQL and
NATS (bookings and payments too where seats must be held or sold), supply put on sale through inventory's API and
found through search's.

Search lists only what an approved supplier sells: a departure or hotel appears once its operator or owner is
approved and goes when it is suspended, a hotel also while it is inactive. Held and sold seats are not offered,
released ones are again; a stay is offered only when every night has the rooms, priced by its cheapest fitting room
type. Pages of results list every match once, in order. Every event delivered again, and backwards, changes
nothing. A rebuild from inventory's snapshot ends with exactly the
read model the events built, and the worker measures how long each change took to reach it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from tripline.messaging.envelope import MSG_ID_HEADER

from .booking_journeys import bus_seats, hotel_rooms, start, stop_together
from .platform import ADMIN, Platform, on_jetstream, wait_for
from .search_client import SEATS, SearchStack, Supplier, inr, search_beside, start_search

ASHA, RAVI = "cust-asha", "cust-ravi"
FARE = 90_000


@pytest.fixture(autouse=True)
def _processes_stopped_together(platform: Platform) -> Iterator[None]:
    yield
    stop_together(platform)


# Read once, so that every date of a test stays the same even if it runs past midnight.
TODAY = datetime.now(UTC).date()


def day(ahead: int) -> date:
    """The UTC date ``ahead`` days from today."""
    return TODAY + timedelta(days=ahead)


def departure(ahead: int, hour: int, minutes: int = 0) -> datetime:
    """A departure ``ahead`` days from today, ``minutes`` after ``hour`` o'clock UTC."""
    return datetime.combine(day(ahead), time(hour), tzinfo=UTC) + timedelta(minutes=minutes)


def route_on(departs_at: datetime, origin: str = "Mumbai", destination: str = "Goa") -> dict[str, str]:
    """Bus search's query for the route on the departure's UTC date."""
    return {"origin": origin, "destination": destination, "date": departs_at.date().isoformat()}


def stay(check_in: date, nights: int, city: str = "Goa", **more: Any) -> dict[str, Any]:
    """Hotel search's query for ``nights`` nights from ``check_in``."""
    check_out = check_in + timedelta(days=nights)
    return {"city": city, "check_in": check_in.isoformat(), "check_out": check_out.isoformat(), **more}


# Approval and activity ------------------------------------------------------------------------------------------


def test_a_departure_is_listed_only_while_its_operator_is_approved(platform: Platform) -> None:
    stack = start_search(platform)
    catalogue = stack.catalogue
    operator = catalogue.operator("pending")
    departs_at = departure(3, 7, 30)
    schedule_id = catalogue.schedule(operator, catalogue.bus(operator, "sleeper", ["ac", "wifi"]), departs_at, FARE)
    query = route_on(departs_at, "  mumbai ", "GOA")  # city names match however they are typed
    stack.caught_up()
    assert stack.search.trip(schedule_id, **query) is None

    catalogue.decide(operator, "approve")
    stack.caught_up()

    trip = stack.search.trip(schedule_id, **query)
    assert trip is not None
    assert datetime.fromisoformat(trip.pop("departs_at")) == departs_at
    assert datetime.fromisoformat(trip.pop("arrives_at")) == departs_at + timedelta(hours=10)
    assert trip == {
        "schedule_id": schedule_id,
        "operator": {"id": operator.id, "name": "Konkan Travels"},
        "origin": "Mumbai",
        "destination": "Goa",
        "duration_minutes": 600,
        "fare": inr(FARE),
        "available_seats": len(SEATS),
        "bus_type": "sleeper",
        "amenities": ["ac", "wifi"],
    }

    catalogue.decide(operator, "suspend")
    stack.caught_up()
    assert stack.search.trip(schedule_id, **query) is None

    catalogue.decide(operator, "approve")
    stack.caught_up()
    assert stack.search.trip(schedule_id, **query) is not None


def test_a_hotel_is_listed_only_while_its_owner_is_approved_and_it_is_active(platform: Platform) -> None:
    stack = start_search(platform)
    catalogue = stack.catalogue
    owner = catalogue.owner("pending")
    hotel_id = catalogue.hotel(owner, city="Goa", name="Seaside", stars=4)
    room_type_id = catalogue.room_type(owner, hotel_id, "Double", capacity=2)
    check_in = day(3)
    catalogue.allot(owner, room_type_id, check_in, [450_000, 500_000], rooms=2)
    query = stay(check_in, 2)

    def listed() -> bool:
        stack.caught_up()
        return stack.search.offer(hotel_id, **query) is not None

    assert not listed()

    catalogue.decide(owner, "approve")
    assert listed()
    assert stack.search.offer(hotel_id, **query) == {
        "hotel_id": hotel_id,
        "name": "Seaside",
        "city": "Goa",
        "stars": 4,
        "amenities": ["wifi"],
        "min_price": inr(950_000),
        "room_types": [
            {
                "room_type_id": room_type_id,
                "name": "Double",
                "capacity": 2,
                "available_rooms": 2,
                "total_price": inr(950_000),
            }
        ],
    }

    catalogue.change_hotel(owner, hotel_id, is_active=False)
    assert not listed()

    catalogue.change_hotel(owner, hotel_id, is_active=True)
    assert listed()

    catalogue.decide(owner, "suspend")
    assert not listed()


# Seats and rooms ------------------------------------------------------------------------------------------------


def test_held_and_sold_seats_are_not_offered_and_released_seats_are_again(platform: Platform) -> None:
    journeys = start(platform)
    stack = search_beside(platform, journeys.inventory, journeys.env)
    schedule_id = journeys.schedule()
    schedule = journeys.call("GET", f"{journeys.inventory}/v1/schedules/{schedule_id}", ADMIN)
    departs_at = datetime.fromisoformat(schedule["departs_at"])
    query = route_on(departs_at)
    journeys.top_up(ASHA, 500_000)
    journeys.top_up(RAVI, 500_000)

    def free_seats() -> int | None:
        stack.caught_up()
        trip = stack.search.trip(schedule_id, **query)
        return None if trip is None else int(trip["available_seats"])

    assert free_seats() == 40

    held = journeys.book(ASHA, bus_seats(schedule_id, "1A", "1B"), pay=False)
    journeys.reaches(ASHA, held["id"], "reserved")
    assert free_seats() == 38

    sold = journeys.book(RAVI, bus_seats(schedule_id, "2A", "2B", "2C"))
    journeys.reaches(RAVI, sold["id"], "confirmed")
    assert free_seats() == 35
    assert stack.search.trip(schedule_id, **query, seats=35) is not None
    assert stack.search.trip(schedule_id, **query, seats=36) is None

    journeys.cancel(ASHA, held["id"])
    journeys.reaches(ASHA, held["id"], "cancelled")
    assert free_seats() == 37

    journeys.cancel(RAVI, sold["id"])
    journeys.reaches(RAVI, sold["id"], "cancelled")
    assert free_seats() == 40
    assert stack.search.trip(schedule_id, **query, seats=40) is not None


def test_a_stay_is_listed_only_when_every_night_has_the_rooms_and_priced_by_its_cheapest_fitting_room_type(
    platform: Platform,
) -> None:
    stack = start_search(platform)
    catalogue = stack.catalogue
    owner = catalogue.owner()
    hotel_id = catalogue.hotel(owner)
    suite = catalogue.room_type(owner, hotel_id, "Suite", capacity=4)
    standard = catalogue.room_type(owner, hotel_id, "Standard", capacity=2)
    check_in = day(4)
    catalogue.allot(owner, suite, check_in, [500_000, 700_000, 600_000], rooms=3)
    catalogue.allot(owner, standard, check_in, [200_000, 300_000, 250_000], rooms=3)
    catalogue.allot(owner, standard, check_in + timedelta(days=1), [300_000], rooms=1)  # the middle night runs short
    stack.caught_up()

    def offered(query: dict[str, Any]) -> dict[str, Any] | None:
        return stack.search.offer(hotel_id, **query)

    one_room = offered(stay(check_in, 3))
    assert one_room is not None
    assert one_room["min_price"] == inr(750_000)
    assert [
        (room["room_type_id"], room["available_rooms"], room["total_price"]) for room in one_room["room_types"]
    ] == [
        (standard, 1, inr(750_000)),
        (suite, 3, inr(1_800_000)),
    ]

    two_rooms = offered(stay(check_in, 3, rooms=2))
    assert two_rooms is not None
    assert two_rooms["min_price"] == inr(1_800_000)
    assert [room["room_type_id"] for room in two_rooms["room_types"]] == [suite]

    assert offered(stay(check_in, 3, rooms=4)) is None
    # A fourth night was never put on sale: no room type has it.
    assert offered(stay(check_in, 4)) is None
    three_guests = offered(stay(check_in, 3, guests=3))  # only a Suite sleeps three
    assert three_guests is not None
    assert three_guests["min_price"] == inr(1_800_000)
    assert [room["room_type_id"] for room in three_guests["room_types"]] == [suite]
    # The short night matters only to stays that include it.
    last_night = offered(stay(check_in + timedelta(days=2), 1, rooms=2))
    assert last_night is not None
    assert last_night["min_price"] == inr(250_000)
    assert [room["room_type_id"] for room in last_night["room_types"]] == [standard, suite]


# Paging ---------------------------------------------------------------------------------------------------------


def test_pages_of_departures_sorted_by_price_list_every_match_once_in_price_order(platform: Platform) -> None:
    stack = start_search(platform)
    catalogue = stack.catalogue
    operator = catalogue.operator()
    bus_id = catalogue.bus(operator)
    fares = [1_200, 800, 800, 1_500, 950, 800, 1_100, 700, 1_500, 1_000, 900, 1_250]
    departures = {
        catalogue.schedule(operator, bus_id, departure(5, 5, 40 * n), fare * 100): (fare * 100, departure(5, 5, 40 * n))
        for n, fare in enumerate(fares)
    }
    # The same route a day later, and the reverse route the same day: neither is on these pages.
    catalogue.schedule(operator, bus_id, departure(6, 9), 500)
    catalogue.schedule(operator, bus_id, departure(5, 9), 500, route=("Goa", "Mumbai"))
    stack.caught_up()

    pages = list(stack.search.pages("buses", **route_on(departure(5, 5)), sort="price", limit=5))

    assert [len(page["items"]) for page in pages] == [5, 5, 2]
    listed = [trip["schedule_id"] for page in pages for trip in page["items"]]
    assert listed == sorted(departures, key=lambda schedule_id: (*departures[schedule_id], schedule_id))
    assert [trip["fare"]["amount_minor"] for page in pages for trip in page["items"]] == sorted(
        fare * 100 for fare in fares
    )


# Rebuilding -----------------------------------------------------------------------------------------------------

ROUTES = [("Mumbai", "Goa"), ("Pune", "Goa"), ("Mumbai", "Pune")]
CITIES = ["Goa", "Pune"]


def generated_catalogue(stack: SearchStack, rng: random.Random) -> dict[str, int]:
    """Operators and owners in every approval state, departures on a few routes over two days (one cancelled),
    hotels with two room types each and nights at varied rates, and a few holds; returns how many of each kind of
    aggregate inventory has, as a snapshot counts them.
    """
    catalogue = stack.catalogue
    operators = [catalogue.operator(status) for status in ("approved", "pending", "suspended")]
    buses = [(operator, catalogue.bus(operator, bus_type)) for operator in operators
             for bus_type in ("seater", "sleeper")]  # fmt: skip
    schedules = []
    for _ in range(15):
        operator, bus_id = rng.choice(buses)
        departs_at = departure(rng.choice([3, 4]), rng.randrange(5, 20), rng.choice([0, 15, 30, 45]))
        fare = rng.randrange(500, 2_000) * 100
        schedule_id = catalogue.schedule(operator, bus_id, departs_at, fare, rng.choice(ROUTES), rng.randrange(3, 12))
        schedules.append((operator, schedule_id))
    on_sale = [schedule_id for operator, schedule_id in schedules if operator is operators[0]]
    catalogue.cancel_schedule(on_sale.pop())

    owners = [catalogue.owner("approved"), catalogue.owner("pending")]
    hotels = [(owners[0], "Goa"), (owners[0], "Goa"), (owners[0], "Pune"), (owners[1], "Goa")]
    room_types: list[tuple[Supplier, str]] = []
    for n, (owner, city) in enumerate(hotels):
        hotel_id = catalogue.hotel(owner, city=city, name=f"Hotel {n}", stars=rng.randrange(1, 6))
        for name, capacity in (("Standard", 2), ("Family", 4)):
            room_type_id = catalogue.room_type(owner, hotel_id, name, capacity)
            rates = [rng.randrange(2_000, 9_000) * 100 for _ in range(rng.randrange(5, 11))]
            catalogue.allot(owner, room_type_id, day(3), rates, rooms=rng.randrange(2, 6))
            room_types.append((owner, room_type_id))
        if n == 1:
            catalogue.change_hotel(owner, hotel_id, is_active=False)

    for schedule_id in on_sale[:3]:
        stack.reserve(uuid.uuid4(), {"type": "bus_seats", "schedule_id": schedule_id, "seats": rng.sample(SEATS, 2)})
    stack.reserve(uuid.uuid4(), hotel_rooms(room_types[0][1], day(4), nights=2))
    sold = uuid.uuid4()
    stack.reserve(sold, hotel_rooms(room_types[0][1], day(6), nights=1))
    stack.confirm(sold)
    return {
        "operator.status_changed": len(operators),
        "owner.status_changed": len(owners),
        "schedule.upserted": len(schedules),
        "hotel.upserted": len(hotels),
        "room_nights.changed": len(room_types),
    }


def answers(stack: SearchStack) -> dict[str, list[dict[str, Any]]]:
    """What search answers to every route on each day of the catalogue, and to a few stays in each city."""
    trips = {
        f"{origin}-{destination} +{ahead} by {sort}": stack.search.every_page(
            "buses", **route_on(departure(ahead, 0), origin, destination), sort=sort
        )
        for origin, destination in ROUTES
        for ahead in (3, 4)
        for sort in ("price", "departure")
    }
    stays = {
        f"{city} +{check_in} for {nights}, {rooms} rooms": stack.search.every_page(
            "hotels", **stay(day(check_in), nights, city, rooms=rooms)
        )
        for city in CITIES
        for check_in, nights in ((3, 2), (4, 3), (3, 5))
        for rooms in (1, 2)
    }
    return trips | stays


def test_a_rebuilt_read_model_equals_the_one_its_events_built(platform: Platform) -> None:
    stack = start_search(platform)
    aggregates = generated_catalogue(stack, random.Random(20_261_201))
    stack.caught_up()
    built = stack.read_model()
    answered = answers(stack)
    assert len(built["trips"]) == aggregates["schedule.upserted"]
    assert len(built["room_types"]) == 2 * aggregates["hotel.upserted"]
    assert sum(len(items) for query, items in answered.items() if " by " in query) >= 10
    assert sum(len(items) for query, items in answered.items() if " rooms" in query) >= 10
    # The holds are in it: two seats off three departures, a room off two nights held and one night sold.
    held_trips = {
        trip["schedule_id"] for trips in answered.values() for trip in trips if trip.get("available_seats") == 38
    }
    assert len(held_trips) == 3
    assert platform.sql("search", "SELECT count(*) FROM room_nights WHERE available = total - 1") == [(3,)]

    exit_code, lines, errors = stack.rebuild()

    assert exit_code == 0, errors
    assert lines[-1]["status"] == "completed", lines
    assert lines[-1]["announced"] == aggregates
    rebuilt = stack.read_model()
    for table, rows in built.items():
        assert rebuilt[table] == rows, table
    assert answers(stack) == answered
    assert stack.dead_letters() == 0


SUPPLY_EVENTS = "subject ~ '^inventory[.]evt[.](operator|owner|schedule|seats|hotel|room_nights)[.]'"


def deliver_every_supply_event_again_backwards(stack: SearchStack) -> int:
    """Publish every supply event inventory has published twice more, newest first: the very envelope under a new
    ``Nats-Msg-Id`` (search's inbox must know it), and its payload in a fresh envelope (a message search has never
    seen, whose version must tell it that it is old). Returns how many fresh envelopes were published."""
    rows = stack.platform.sql(
        "inventory",
        f"SELECT subject, envelope, headers FROM outbox WHERE published_at IS NOT NULL AND {SUPPLY_EVENTS}"
        " ORDER BY created_at DESC, id DESC",
    )
    messages = []
    for subject, envelope, headers in rows:
        assert isinstance(envelope, dict)
        assert isinstance(headers, dict)
        fresh = str(uuid.uuid4())
        messages.append((str(subject), envelope, headers | {MSG_ID_HEADER: str(uuid.uuid4())}))
        messages.append((str(subject), envelope | {"id": fresh}, headers | {MSG_ID_HEADER: fresh}))

    async def publish_all(js: JetStreamContext) -> None:
        for subject, envelope, headers in messages:
            await js.publish(subject, json.dumps(envelope).encode(), headers=headers)

    on_jetstream(stack.platform.env["NATS_URL"], publish_all)
    return len(rows)


def test_every_supply_event_delivered_again_and_backwards_changes_nothing(platform: Platform) -> None:
    stack = start_search(platform)
    generated_catalogue(stack, random.Random(20_261_124))
    stack.caught_up()
    built, answered = stack.read_model(), answers(stack)
    [(received,)] = platform.sql("search", "SELECT count(*) FROM inbox")

    fresh = deliver_every_supply_event_again_backwards(stack)
    stack.caught_up()

    assert fresh > 40
    assert platform.sql("search", "SELECT count(*) FROM inbox") == [(received + fresh,)]  # each fresh one handled
    assert stack.read_model() == built
    assert answers(stack) == answered
    assert stack.dead_letters() == 0


# Measuring ------------------------------------------------------------------------------------------------------


def test_the_search_worker_measures_how_long_each_change_took_to_reach_the_read_model(platform: Platform) -> None:
    stack = start_search(platform)
    wait_for(lambda: stack.projections_measured() is not None, what="the search worker's metrics")
    before = stack.projections_measured()
    assert before is not None

    stack.catalogue.operator("approved")  # registered, then approved: two changes

    wait_for(lambda: (stack.projections_measured() or 0) >= before + 2, what="two more changes measured")
