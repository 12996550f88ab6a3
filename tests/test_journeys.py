"""Every role's journeys end to end, through the gateway only, as api.md promises them.

Operators and property owners put supply on sale and an admin reviews them; travellers search, pay from their
wallets, cancel and are refunded; an admin oversees bookings and wallets. Each test starts the whole platform
(every service's web server and worker behind Caddy) and speaks to it only through ``tripline_ops.client``.

Search is eventually consistent: what must appear is polled for, and what must stay absent is judged only once
a later fact (a marker departure or hotel created afterwards) has reached search.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tripline_ops.client import ApiError, Tripline, bus_seats, hotel_rooms, money, seat_labels

from .platform import Platform, wait_for
from .whole_platform import WholePlatform, start_whole_platform

Json = dict[str, Any]
ROUTE = ("Mumbai", "Goa")
SEATS = seat_labels(rows=3)  # 12 seats
FARE = 90_000
RATE = 450_000
SUITE_RATE = 800_000
TODAY = datetime.now(UTC).date()
# Far enough ahead for a full refund, at a time of day that keeps the departure's UTC date fixed.
DEPARTS = datetime.combine(TODAY + timedelta(days=3), time(8, 30), tzinfo=UTC)
DEPARTURE_DAY = DEPARTS.date()
CHECK_IN = TODAY + timedelta(days=5)
TERMINAL = frozenset({"completed", "cancelled", "expired", "failed"})


# Helpers ---------------------------------------------------------------------------------------------------------


def refusal(action: Callable[[], object]) -> tuple[int, str]:
    """The status and problem code with which the platform refuses ``action``."""
    with pytest.raises(ApiError) as refused:
        action()
    return refused.value.status, refused.value.code


def eventually(condition: Callable[[], Any], what: str) -> Any:
    return wait_for(condition, timeout=30, interval=0.2, what=what)


def approved_operator(whole: WholePlatform, sub: str, name: str) -> tuple[Tripline, str]:
    """An operator's account and id, registered and approved."""
    operator = whole.client(sub, "operator")
    operator_id = operator.register_operator(name, f"ops@{sub}.example")["id"]
    whole.admin().decide("operators", operator_id, "approve", note="documents checked")
    return operator, operator_id


def departure(operator: Tripline, operator_id: str, departs_at: datetime = DEPARTS, fare: int = FARE) -> Json:
    """A departure of a new 12-seat bus of the operator on ``ROUTE``."""
    bus = operator.add_bus(operator_id, f"MH-{uuid.uuid4().hex[:6]}", SEATS, amenities=["ac"])
    return operator.add_schedule(bus["id"], ROUTE, departs_at, 10, money(fare))


def departure_on_sale(whole: WholePlatform, departs_at: datetime = DEPARTS) -> Json:
    """A departure of a freshly approved operator, once search lists it."""
    operator, operator_id = approved_operator(whole, f"operator-{uuid.uuid4().hex[:6]}", "Konkan Travels")
    schedule = departure(operator, operator_id, departs_at)
    eventually(lambda: schedule["id"] in on_sale(whole, departs_at.date()), "the departure on sale")
    return schedule


def stay_on_sale(whole: WholePlatform, rooms: int = 2) -> tuple[Tripline, Json, Json]:
    """An approved owner, its hotel in Goa and a double room type with ``rooms`` rooms a night for three nights
    from ``CHECK_IN``, once search lists the hotel."""
    owner = whole.client(f"owner-{uuid.uuid4().hex[:6]}", "owner")
    owner_id = owner.register_property_owner("Seaside Stays", "desk@seaside.example")["id"]
    whole.admin().decide("property-owners", owner_id, "approve", note="licence checked")
    hotel = owner.add_hotel(owner_id, "Seaside Inn", "Goa", 4, amenities=["wifi", "pool"])
    double = owner.add_room_type(hotel["id"], "Double", 2, ["ac"])
    owner.set_nights(double["id"], CHECK_IN, CHECK_IN + timedelta(days=3), rooms, money(RATE))
    hotel_offer(whole, hotel["id"], double["id"])
    return owner, hotel, double


def on_sale(whole: WholePlatform, on: date = DEPARTURE_DAY, **criteria: Any) -> dict[str, Json]:
    """The departures search offers on ``ROUTE`` that day, by schedule id."""
    page = whole.anonymous().search_buses(*ROUTE, on, limit=100, **criteria)
    return {item["schedule_id"]: item for item in page["items"]}


def stays(whole: WholePlatform, nights: int = 2, **criteria: Any) -> dict[str, Json]:
    """The hotels search offers in Goa for ``nights`` nights from ``CHECK_IN``, by hotel id."""
    page = whole.anonymous().search_hotels("Goa", CHECK_IN, CHECK_IN + timedelta(days=nights), limit=100, **criteria)
    return {item["hotel_id"]: item for item in page["items"]}


def hotel_offer(whole: WholePlatform, hotel_id: str, *room_type_ids: str, **criteria: Any) -> Json:
    """Search's offer of the hotel, once it lists exactly these room types."""

    def listed() -> Json | None:
        offer = stays(whole, **criteria).get(hotel_id)
        offered = {kind["room_type_id"] for kind in offer["room_types"]} if offer else set()
        return offer if offered == set(room_type_ids) else None

    return eventually(listed, f"hotel {hotel_id} offering {room_type_ids} for {criteria}")


def reaches(client: Tripline, booking_id: str, status: str) -> Json:
    """Follow the booking (``?wait=2``) until it is ``status``; fails if it settles anywhere else for good."""

    seen: list[Json] = []

    def arrived() -> Json | None:
        booking = client.booking(booking_id, wait=2)
        assert booking["status"] == status or booking["status"] not in TERMINAL, booking
        seen[:] = [booking]
        return booking if booking["status"] == status else None

    try:
        return eventually(arrived, f"booking {booking_id} {status}")
    except AssertionError as late:
        raise AssertionError(f"{late}; last seen: {seen}") from None


def seat_states(client: Tripline, schedule_id: str, *seats: str) -> list[str]:
    shown = {entry["seat"]: entry["status"] for entry in client.schedule(schedule_id)["seat_map"]}
    return [shown[seat] for seat in seats]


def balance(client: Tripline, customer_id: str | None = None) -> int:
    return int(client.wallet(customer_id)["balance"]["amount_minor"])


def ids(page: Json) -> set[str]:
    return {item["id"] for item in page["items"]}


def header(client: Tripline, name: str) -> str | None:
    assert client.last_response is not None
    return client.last_response.headers.get(name)


# Suppliers -------------------------------------------------------------------------------------------------------


def test_an_operators_departures_are_on_sale_only_while_it_is_approved_and_they_are_active(
    platform: Platform,
) -> None:
    whole = start_whole_platform(platform)
    admin, asha = whole.admin(), whole.client("asha", "customer")
    konkan = whole.client("konkan", "operator")

    registered = konkan.register_operator("Konkan Travels", "ops@konkan.example")
    assert (registered["account_id"], registered["approval_status"]) == ("konkan", "pending")
    assert registered["submitted_at"]
    assert registered["approved_at"] is None
    assert refusal(lambda: konkan.register_operator("Konkan Again", "x@konkan.example")) == (409, "already_exists")
    operator_id = registered["id"]
    schedule = departure(konkan, operator_id)
    assert (schedule["status"], schedule["available_seats"]) == ("active", len(SEATS))

    # Search applies supply in order: once a later, approved departure shows, the pending one would have too.
    marker = departure(*approved_operator(whole, "seabird", "Seabird Lines"))
    eventually(lambda: marker["id"] in on_sale(whole), "the marker departure on sale")
    assert schedule["id"] not in on_sale(whole)

    assert [operator["id"] for operator in admin.suppliers("operators", "pending")["items"]] == [operator_id]
    approved = admin.decide("operators", operator_id, "approve", note="documents checked")
    assert (approved["approval_status"], approved["review_note"]) == ("approved", "documents checked")
    assert approved["approved_at"]
    assert admin.suppliers("operators", "pending")["items"] == []
    listed = eventually(lambda: on_sale(whole).get(schedule["id"]), "the approved operator's departure on sale")
    assert listed["operator"] == {"id": operator_id, "name": "Konkan Travels"}
    assert (listed["fare"], listed["available_seats"], listed["duration_minutes"]) == (money(FARE), len(SEATS), 600)

    suspended = admin.decide("operators", operator_id, "suspend", reason="complaints")
    assert suspended["approval_status"] == "suspended"
    assert suspended["suspended_at"]
    eventually(lambda: schedule["id"] not in on_sale(whole), "the suspended operator's departure gone")
    refused = reaches(asha, asha.book(bus_seats(schedule["id"], ["1A"]), pay=False)["id"], "failed")
    assert refused["failure"]["code"] == "not_sellable"
    assert seat_states(asha, schedule["id"], "1A") == ["available"]

    assert admin.decide("operators", operator_id, "approve", note="resolved")["approval_status"] == "approved"
    eventually(lambda: schedule["id"] in on_sale(whole), "the re-approved operator's departure back on sale")

    cancelled = konkan.cancel_schedule(schedule["id"])
    assert cancelled["status"] == "cancelled"
    eventually(lambda: schedule["id"] not in on_sale(whole), "the cancelled departure gone")
    refused = reaches(asha, asha.book(bus_seats(schedule["id"], ["1B"]), pay=False)["id"], "failed")
    assert refused["failure"]["code"] == "not_sellable"
    assert marker["id"] in on_sale(whole)


def test_operator_reviews_follow_the_legal_transitions_and_an_operators_fleet_stays_its_own(platform: Platform) -> None:
    whole = start_whole_platform(platform)
    admin = whole.admin()
    konkan, konkan_id = approved_operator(whole, "konkan", "Konkan Travels")
    schedule = departure(konkan, konkan_id)
    latecomer = whole.client("latecomer", "operator")
    late_id = latecomer.register_operator("Late Lines", "ops@late.example")["id"]

    def decide(operator_id: str, decision: str) -> Json:
        why = {"note": "checked"} if decision == "approve" else {"reason": "checked"}
        return admin.decide("operators", operator_id, decision, **why)

    invalid = (409, "invalid_transition")
    assert refusal(lambda: decide(late_id, "suspend")) == invalid
    rejected = decide(late_id, "reject")
    assert rejected["approval_status"] == "rejected"
    assert rejected["rejected_at"]
    assert refusal(lambda: decide(late_id, "reject")) == invalid
    assert refusal(lambda: decide(late_id, "suspend")) == invalid
    later = decide(late_id, "approve")
    assert later["approval_status"] == "approved"
    assert later["approved_at"]
    assert refusal(lambda: decide(late_id, "approve")) == invalid
    assert refusal(lambda: decide(late_id, "reject")) == invalid
    assert decide(late_id, "suspend")["approval_status"] == "suspended"
    assert refusal(lambda: decide(late_id, "suspend")) == invalid
    assert refusal(lambda: decide(late_id, "reject")) == invalid
    assert decide(late_id, "approve")["approval_status"] == "approved"
    assert {operator["id"] for operator in admin.suppliers("operators", "approved")["items"]} == {konkan_id, late_id}

    # Another operator: not its record, its bus, nor its departure to cancel. The departure itself is public.
    not_found = (404, "not_found")
    assert refusal(lambda: latecomer.supplier("operators", konkan_id)) == not_found
    assert refusal(lambda: latecomer.bus(schedule["bus_id"])) == not_found
    assert refusal(lambda: latecomer.cancel_schedule(schedule["id"])) == not_found
    assert refusal(lambda: latecomer.add_bus(konkan_id, "MH-99-ZZ-0001", ["1A"])) == not_found
    assert konkan.schedule(schedule["id"])["status"] == "active"
    assert konkan.supplier("operators", konkan_id)["name"] == "Konkan Travels"
    assert refusal(lambda: konkan.suppliers("operators", "pending")) == (403, "forbidden")


def test_an_owners_hotel_is_on_sale_while_active_and_its_allotment_never_drops_below_what_is_booked(
    platform: Platform,
) -> None:
    whole = start_whole_platform(platform)
    admin, asha = whole.admin(), whole.client("asha", "customer")
    seaside = whole.client("seaside", "owner")
    owner = seaside.register_property_owner("Seaside Stays", "desk@seaside.example")
    assert owner["approval_status"] == "pending"
    assert refusal(lambda: seaside.register_property_owner("Again", "x@seaside.example")) == (409, "already_exists")
    assert [pending["id"] for pending in admin.suppliers("property-owners", "pending")["items"]] == [owner["id"]]
    assert admin.decide("property-owners", owner["id"], "approve", note="ok")["approval_status"] == "approved"

    hotel = seaside.add_hotel(owner["id"], "Seaside Inn", "Goa", 4, amenities=["wifi", "pool"])
    assert (hotel["is_active"], hotel["owner_id"]) == (True, owner["id"])
    double = seaside.add_room_type(hotel["id"], "Double", 2, ["ac"])
    suite = seaside.add_room_type(hotel["id"], "Suite", 4)
    assert (double["hotel_id"], double["capacity"]) == (hotel["id"], 2)
    three_nights = [CHECK_IN + timedelta(days=n) for n in range(3)]
    allotted = seaside.set_nights(double["id"], CHECK_IN, three_nights[-1] + timedelta(days=1), 2, money(RATE))
    assert allotted == [
        {"night": night.isoformat(), "total": 2, "available": 2, "rate": money(RATE)} for night in three_nights
    ]
    seaside.set_nights(suite["id"], CHECK_IN, CHECK_IN + timedelta(days=2), 1, money(SUITE_RATE))
    assert seaside.nights(double["id"], CHECK_IN, CHECK_IN + timedelta(days=3)) == allotted

    found = hotel_offer(whole, hotel["id"], double["id"], suite["id"])
    assert (found["name"], found["stars"], found["min_price"]) == ("Seaside Inn", 4, money(2 * RATE))
    assert {kind["room_type_id"]: (kind["available_rooms"], kind["total_price"]) for kind in found["room_types"]} == {
        double["id"]: (2, money(2 * RATE)),
        suite["id"]: (1, money(2 * SUITE_RATE)),
    }
    assert hotel_offer(whole, hotel["id"], suite["id"], guests=3)["min_price"] == money(2 * SUITE_RATE)

    assert seaside.update_hotel(hotel["id"], is_active=False)["is_active"] is False
    eventually(lambda: hotel["id"] not in stays(whole), "the inactive hotel gone")
    stay = hotel_rooms(double["id"], CHECK_IN, CHECK_IN + timedelta(days=2), rooms=1, guests=2)
    refused = reaches(asha, asha.book(stay, pay=False)["id"], "failed")
    assert refused["failure"]["code"] == "not_sellable"
    renamed = seaside.update_hotel(hotel["id"], is_active=True, name="Seaside Grand", stars=5)
    assert (renamed["is_active"], renamed["name"], renamed["stars"]) == (True, "Seaside Grand", 5)
    eventually(lambda: stays(whole).get(hotel["id"], {}).get("name") == "Seaside Grand", "the renamed hotel back")
    assert stays(whole)[hotel["id"]]["stars"] == 5

    held = reaches(asha, asha.book(stay, pay=False)["id"], "reserved")
    assert held["items"][0]["price"] == money(2 * RATE)
    left = seaside.nights(double["id"], CHECK_IN, CHECK_IN + timedelta(days=3))
    assert [night["available"] for night in left] == [1, 1, 2]
    emptied = (three_nights[0], three_nights[-1] + timedelta(days=1), 0, money(RATE))
    assert refusal(lambda: seaside.set_nights(double["id"], *emptied)) == (409, "allotment_below_booked")
    after = seaside.nights(double["id"], CHECK_IN, CHECK_IN + timedelta(days=3))
    assert [(night["total"], night["available"]) for night in after] == [(2, 1), (2, 1), (2, 2)]
    tightened = seaside.set_nights(double["id"], CHECK_IN, CHECK_IN + timedelta(days=2), 1, money(RATE))
    assert [(night["total"], night["available"]) for night in tightened] == [(1, 0), (1, 0)]


# Travellers ------------------------------------------------------------------------------------------------------


def test_a_traveller_books_a_seat_and_a_stay_in_one_paid_booking_and_cancels_it_for_a_full_refund(
    platform: Platform,
) -> None:
    whole = start_whole_platform(platform)
    schedule = departure_on_sale(whole)
    _, hotel, double = stay_on_sale(whole)
    asha, ravi = whole.client("asha", "customer"), whole.client("ravi", "customer")
    trip = on_sale(whole)[schedule["id"]]
    two_nights = next(kind for kind in stays(whole)[hotel["id"]]["room_types"] if kind["room_type_id"] == double["id"])
    total = 2 * trip["fare"]["amount_minor"] + two_nights["total_price"]["amount_minor"]
    assert total == 2 * FARE + 2 * RATE

    assert asha.wallet()["balance"] == money(0)
    # A refused body is not remembered under its key, and keys are each account's own.
    assert refusal(lambda: asha.top_up(money(0), idempotency_key="asha-top-up")) == (400, "validation_failed")
    topped = asha.top_up(money(2_000_000), idempotency_key="asha-top-up")
    assert ravi.top_up(money(500), idempotency_key="asha-top-up")["amount"] == money(500)
    assert (topped["kind"], topped["amount"], topped["balance_after"]) == ("top_up", money(2_000_000), money(2_000_000))
    passengers = [{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}]
    items = (
        bus_seats(schedule["id"], ["1A", "1B"], passengers),
        hotel_rooms(double["id"], CHECK_IN, CHECK_IN + timedelta(days=2), rooms=1, guests=2),
    )
    placed = asha.book(*items, idempotency_key="asha-goa-trip")
    assert (placed["status"], placed["customer_id"]) == ("pending", "asha")
    assert header(asha, "Location") == f"/v1/bookings/{placed['id']}"
    assert header(asha, "Idempotent-Replayed") is None
    assert asha.book(*items, idempotency_key="asha-goa-trip") == placed
    assert header(asha, "Idempotent-Replayed") == "true"
    assert refusal(lambda: asha.book(items[0], idempotency_key="asha-goa-trip")) == (422, "idempotency_key_reused")

    confirmed = reaches(asha, placed["id"], "confirmed")
    assert confirmed["total"] == money(total)
    assert confirmed["failure"] is None
    assert [item["price"] for item in confirmed["items"]] == [money(2 * FARE), money(2 * RATE)]
    assert confirmed["payment"] == {"method": "wallet"}
    assert confirmed["confirmed_at"]
    assert balance(asha) == 2_000_000 - total
    assert seat_states(asha, schedule["id"], "1A", "1B", "1C") == ["sold", "sold", "available"]
    eventually(lambda: on_sale(whole)[schedule["id"]]["available_seats"] == len(SEATS) - 2, "two seats fewer")
    ledger = [(t["kind"], t["amount"], t["booking_id"], t["balance_after"]) for t in asha.transactions()["items"]]
    assert ledger == [
        ("debit", money(total), placed["id"], money(2_000_000 - total)),
        ("top_up", money(2_000_000), None, money(2_000_000)),
    ]

    # Someone else's booking: invisible, and not theirs to act on.
    not_found = (404, "not_found")
    assert refusal(lambda: ravi.booking(placed["id"])) == not_found
    assert refusal(lambda: ravi.history(placed["id"])) == not_found
    assert refusal(lambda: ravi.cancel(placed["id"])) == not_found
    ravis = reaches(ravi, ravi.book(bus_seats(schedule["id"], ["2A"]), pay=False)["id"], "reserved")
    assert ids(ravi.bookings()) == {ravis["id"]}

    assert asha.cancel(placed["id"], "plans changed")["status"] == "cancelling"
    cancelled = reaches(asha, placed["id"], "cancelled")
    assert cancelled["refund"] == money(total)
    assert cancelled["cancelled_at"]
    assert balance(asha) == 2_000_000
    refund = asha.transactions()["items"][0]
    assert (refund["kind"], refund["amount"], refund["booking_id"]) == ("refund", money(total), placed["id"])
    assert seat_states(asha, schedule["id"], "1A", "1B") == ["available", "available"]
    changes = asha.history(placed["id"])
    assert [change["to"] for change in changes] == [
        "pending",
        "reserved",
        "payment_pending",
        "confirming",
        "confirmed",
        "cancelling",
        "cancelled",
    ]
    assert [change["from"] for change in changes] == [None] + [change["to"] for change in changes[:-1]]
    assert [change["at"] for change in changes] == sorted(change["at"] for change in changes)

    assert ids(asha.bookings()) == {placed["id"]}
    assert ids(asha.bookings(status="cancelled")) == {placed["id"]}
    assert asha.bookings(status="confirmed")["items"] == []


def test_a_declined_payment_waits_for_a_top_up_and_a_late_cancellation_refunds_half(platform: Platform) -> None:
    whole = start_whole_platform(platform)
    # Ten hours away: inside 24 h, outside 2 h, so half the fare comes back.
    soon = (datetime.now(UTC) + timedelta(hours=10)).replace(microsecond=0)
    schedule = departure_on_sale(whole, soon)
    ravi = whole.client("ravi", "customer")
    ravi.top_up(money(FARE // 3))

    placed = ravi.book(bus_seats(schedule["id"], ["3A"]), pay=False)
    reserved = reaches(ravi, placed["id"], "reserved")
    assert (reserved["payment"], reserved["failure"], reserved["total"]) == (None, None, money(FARE))
    assert reserved["expires_at"] > reserved["reserved_at"]
    assert ravi.pay(placed["id"])["status"] == "payment_pending"
    declined = reaches(ravi, placed["id"], "reserved")
    assert declined["failure"]["code"] == "insufficient_funds"
    assert balance(ravi) == FARE // 3
    assert seat_states(ravi, schedule["id"], "3A") == ["held"]

    ravi.top_up(money(FARE))
    assert ravi.pay(placed["id"])["status"] == "payment_pending"
    confirmed = reaches(ravi, placed["id"], "confirmed")
    assert confirmed["payment"] == {"method": "wallet"}
    assert balance(ravi) == FARE // 3
    assert refusal(lambda: ravi.pay(placed["id"])) == (409, "invalid_state")

    ravi.cancel(placed["id"], "meeting moved")
    cancelled = reaches(ravi, placed["id"], "cancelled")
    assert cancelled["refund"] == money(FARE // 2)
    assert balance(ravi) == FARE // 3 + FARE // 2
    statuses = [change["to"] for change in ravi.history(placed["id"])]
    assert statuses == [
        "pending",
        "reserved",
        "payment_pending",
        "reserved",
        "payment_pending",
        "confirming",
        "confirmed",
        "cancelling",
        "cancelled",
    ]
    kinds = [(t["kind"], t["amount"]) for t in ravi.transactions()["items"]]
    assert kinds == [
        ("refund", money(FARE // 2)),
        ("debit", money(FARE)),
        ("top_up", money(FARE)),
        ("top_up", money(FARE // 3)),
    ]


def test_an_unpaid_booking_expires_and_frees_its_seats(platform: Platform) -> None:
    whole = start_whole_platform(platform, {"BOOKING_HOLD_TTL_SECONDS": "10"})
    schedule = departure_on_sale(whole)
    meera, ravi = whole.client("meera", "customer"), whole.client("ravi", "customer")
    meera.top_up(money(2 * FARE))

    placed = meera.book(bus_seats(schedule["id"], ["1A", "1B"]), pay=False)
    reserved = reaches(meera, placed["id"], "reserved")
    held_for = datetime.fromisoformat(reserved["expires_at"]) - datetime.fromisoformat(reserved["reserved_at"])
    # Inventory starts the hold's clock as it places the hold, a moment before bookings records the reservation.
    assert timedelta(0) < held_for <= timedelta(seconds=10), reserved
    assert seat_states(meera, schedule["id"], "1A", "1B") == ["held", "held"]

    expired = reaches(meera, placed["id"], "expired")
    assert expired["expired_at"]
    eventually(lambda: seat_states(meera, schedule["id"], "1A", "1B") == ["available", "available"], "seats free")
    eventually(lambda: on_sale(whole)[schedule["id"]]["available_seats"] == len(SEATS), "every seat on sale")
    assert refusal(lambda: meera.pay(placed["id"])) == (409, "invalid_state")
    assert balance(meera) == 2 * FARE
    assert [change["to"] for change in meera.history(placed["id"])][-2:] == ["reserved", "expired"]

    ravi.top_up(money(FARE))
    taken = reaches(ravi, ravi.book(bus_seats(schedule["id"], ["1A"]))["id"], "confirmed")
    assert taken["total"] == money(FARE)


# Admin and gateway -----------------------------------------------------------------------------------------------


def test_an_admin_oversees_every_booking_and_wallet(platform: Platform) -> None:
    whole = start_whole_platform(platform)
    admin = whole.admin()
    schedule = departure_on_sale(whole)
    asha, ravi = whole.client("asha", "customer"), whole.client("ravi", "customer")
    asha.top_up(money(FARE))
    ravi.top_up(money(FARE))
    kept = reaches(asha, asha.book(bus_seats(schedule["id"], ["1A"]))["id"], "confirmed")
    dropped = asha.book(bus_seats(schedule["id"], ["1B"]), pay=False)
    reaches(asha, dropped["id"], "reserved")
    assert asha.cancel(dropped["id"])["status"] == "cancelled"
    ravis = reaches(ravi, ravi.book(bus_seats(schedule["id"], ["2A"]))["id"], "confirmed")

    assert ids(admin.bookings()) == {kept["id"], dropped["id"], ravis["id"]}
    assert ids(admin.bookings(customer_id="asha")) == {kept["id"], dropped["id"]}
    assert ids(admin.bookings(customer_id="ravi", status="confirmed")) == {ravis["id"]}
    assert admin.bookings(stuck="true")["items"] == []
    assert refusal(lambda: asha.bookings(customer_id="ravi")) == (403, "forbidden")

    assert refusal(lambda: admin.delete_booking(kept["id"]))[0] == 409
    assert admin.delete_booking(dropped["id"]) is None
    assert admin.last_response is not None
    assert admin.last_response.status_code == 204
    assert ids(admin.bookings()) == {kept["id"], ravis["id"]}
    assert ids(asha.bookings()) == {kept["id"]}
    with_deleted = {item["id"]: item for item in admin.bookings(include_deleted="true")["items"]}
    assert set(with_deleted) == {kept["id"], dropped["id"], ravis["id"]}
    assert with_deleted[dropped["id"]]["deleted_at"]
    assert with_deleted[kept["id"]]["deleted_at"] is None

    assert admin.wallet("asha")["balance"] == money(0)
    assert [t["kind"] for t in admin.transactions("asha")["items"]] == ["debit", "top_up"]
    assert refusal(lambda: asha.wallet("ravi"))[0] == 403
    credited = admin.credit("asha", money(5_000), "delayed departure", idempotency_key="goodwill-asha-1")
    assert (credited["kind"], credited["amount"], credited["balance_after"]) == ("credit", money(5_000), money(5_000))
    assert admin.credit("asha", money(5_000), "delayed departure", idempotency_key="goodwill-asha-1") == credited
    assert header(admin, "Idempotent-Replayed") == "true"
    assert admin.wallet("asha")["balance"] == money(5_000)
    assert asha.transactions()["items"][0] == credited
    assert balance(ravi) == 0


def test_the_gateway_answers_for_itself_and_routes_the_four_services(platform: Platform) -> None:
    whole = start_whole_platform(platform)
    anonymous, admin = whole.anonymous(), whole.admin()
    assert anonymous.gateway_health() == {"status": "ok"}
    expected_paths = {"inventory": "/v1/operators", "bookings": "/v1/bookings", "payments": "/v1/wallets/me",
                      "search": "/v1/search/buses"}  # fmt: skip
    for service, path in expected_paths.items():
        document = anonymous.openapi(service)
        assert document["openapi"].startswith("3.1")
        assert document["info"]["title"] == f"Tripline {service}"
        assert path in document["paths"]

    anonymous.request("GET", "/healthz", headers={"X-Request-ID": "trace-gateway-1"})
    assert header(anonymous, "X-Request-ID") == "trace-gateway-1"
    admin.request("GET", "/v1/operators", headers={"X-Request-ID": "trace-inventory-1"})
    assert header(admin, "X-Request-ID") == "trace-inventory-1"
    anonymous.search_buses(*ROUTE, DEPARTURE_DAY)
    generated = header(anonymous, "X-Request-ID")
    assert generated
    assert uuid.UUID(generated)
    anonymous.search_buses(*ROUTE, DEPARTURE_DAY)
    assert header(anonymous, "X-Request-ID") != generated

    for path in ("/v1/nowhere", "/v1/bookingsfoo", "/openapi/gateway.json"):
        with pytest.raises(ApiError) as unknown:
            anonymous.request("GET", path, headers={"X-Request-ID": "trace-404"})
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        assert {"type", "title", "status", "detail"} <= set(unknown.value.problem)
        assert unknown.value.headers["Content-Type"].startswith("application/problem+json")
        assert unknown.value.headers["X-Request-ID"] == "trace-404"
    assert refusal(lambda: anonymous.bookings())[0] == 401
