"""Holds on real PostgreSQL: all or nothing, never oversold, one effect per command, expiry with grace."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from .. import catalog
from ..desk import TOMORROW, HoldDesk, available_seats, night_counts, rooms, seat_states, seats
from ..support import outbox_payloads, sql


def test_reserved_seats_are_held_priced_and_announced(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()

    kind, reply = desk.reserve(booking, seats(schedule_id, "1A", "1B"))

    assert kind == "reserved"
    [item] = reply["items"]
    assert item["seats"] == ["1A", "1B"]
    assert item["fare"] == {"amount_minor": 125_000, "currency": "INR"}
    assert item["price"] == reply["total"] == {"amount_minor": 250_000, "currency": "INR"}
    states = seat_states(database_url, schedule_id)
    assert states["1A"] == states["1B"] == ("held", booking)
    assert available_seats(database_url, schedule_id) == 38
    [changed] = outbox_payloads(database_url, "inventory.evt.seats.changed")
    assert (changed["available_seats"], changed["version"]) == (38, 2)  # the schedule's seats_version


def test_reserved_stay_is_priced_night_by_night(desk: HoldDesk, room_type_id: uuid.UUID, database_url: str) -> None:
    kind, reply = desk.reserve(uuid.uuid4(), rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=2), count=2))

    assert kind == "reserved"
    assert reply["total"]["amount_minor"] == 2 * 2 * 400_000
    assert [night["night"] for night in reply["items"][0]["nights"]] == [
        TOMORROW.isoformat(),
        (TOMORROW + timedelta(days=1)).isoformat(),
    ]
    counts = night_counts(database_url, room_type_id)
    assert counts[TOMORROW] == (3, 2, 0)
    assert counts[TOMORROW + timedelta(days=2)] == (3, 0, 0)
    [changed] = outbox_payloads(database_url, "inventory.evt.room_nights.changed")
    assert [night["available"] for night in changed["nights"]] == [1, 1]


def test_selling_a_stay_tells_search_the_nights_new_versions(
    desk: HoldDesk, room_type_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()
    desk.reserve(booking, rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=2), count=2))

    desk.confirm(booking)

    reserved, sold = outbox_payloads(database_url, "inventory.evt.room_nights.changed")
    assert [night["available"] for night in sold["nights"]] == [1, 1]  # held or sold, the rooms are taken
    assert [night["version"] for night in sold["nights"]] == [night["version"] + 1 for night in reserved["nights"]]


@pytest.mark.parametrize(("count", "guests", "outcome"), [(1, 2, "reserved"), (2, 4, "reserved"), (1, 3, "rejected")])
def test_a_stay_holds_only_as_many_guests_as_its_rooms_sleep(
    desk: HoldDesk, room_type_id: uuid.UUID, database_url: str, count: int, guests: int, outcome: str
) -> None:
    stay = rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=1), count=count) | {"guests": guests}

    kind, reply = desk.reserve(uuid.uuid4(), stay)

    assert kind == outcome
    if outcome == "rejected":  # the Deluxe room type sleeps two per room
        assert (reply["reason"], reply["item_index"]) == ("rooms_unavailable", 0)
        assert "at most 2 guests" in reply["detail"]
        assert night_counts(database_url, room_type_id)[TOMORROW] == (3, 0, 0)


def test_the_database_refuses_more_held_rooms_than_the_night_has(room_type_id: uuid.UUID, database_url: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(database_url, "UPDATE room_nights SET held = total + 1 WHERE room_type_id = %s", room_type_id)


def test_a_multi_item_reserve_whose_last_item_is_unavailable_holds_nothing(
    desk: HoldDesk, schedule_id: uuid.UUID, room_type_id: uuid.UUID, database_url: str
) -> None:
    stay = rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=2), count=3)
    desk.reserve(uuid.uuid4(), seats(schedule_id, "3A"))
    before = night_counts(database_url, room_type_id)

    kind, reply = desk.reserve(uuid.uuid4(), stay, seats(schedule_id, "1A", "1B"), seats(schedule_id, "2A", "3A"))

    assert (kind, reply["reason"], reply["item_index"]) == ("rejected", "seats_unavailable", 2)
    assert night_counts(database_url, room_type_id) == before
    states = seat_states(database_url, schedule_id)
    assert [seat for seat, (status, _) in states.items() if status != "free"] == ["3A"]
    assert available_seats(database_url, schedule_id) == 39


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_seats_of_an_operator_that_is_not_approved_are_not_sellable(
    desk: HoldDesk, database_url: str, status: str
) -> None:
    schedule_id = catalog.schedule(database_url, catalog.operator(database_url, status=status))

    kind, reply = desk.reserve(uuid.uuid4(), seats(schedule_id, "1A"))

    assert (kind, reply["reason"]) == ("rejected", "not_sellable")
    assert seat_states(database_url, schedule_id)["1A"] == ("free", None)


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_rooms_of_an_owner_that_is_not_approved_are_not_sellable(
    desk: HoldDesk, database_url: str, status: str
) -> None:
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url, status=status))
    catalog.nights(database_url, room_type_id, TOMORROW, count=2, rooms=3, rate_minor=1000)

    kind, reply = desk.reserve(uuid.uuid4(), rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=1)))

    assert (kind, reply["reason"]) == ("rejected", "not_sellable")


def test_cancelled_departed_and_inactive_inventory_is_not_sellable(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    operator_id = catalog.operator(database_url)
    departed = catalog.schedule(database_url, operator_id, departs_in=timedelta(hours=1))
    sql(database_url, "UPDATE schedules SET departs_at = now() - interval '1 minute' WHERE id = %s", departed)
    sql(database_url, "UPDATE schedules SET status = 'cancelled' WHERE id = %s", schedule_id)
    inactive = catalog.room_type(database_url, catalog.owner(database_url), active=False)
    catalog.nights(database_url, inactive, TOMORROW, count=2, rooms=3, rate_minor=1000)

    for item in (
        seats(schedule_id, "1A"),
        seats(departed, "1A"),
        rooms(inactive, TOMORROW, TOMORROW + timedelta(days=1)),
    ):
        kind, reply = desk.reserve(uuid.uuid4(), item)
        assert (kind, reply["reason"]) == ("rejected", "not_sellable"), reply


def test_unknown_inventory_and_unset_nights_are_rejected(desk: HoldDesk, room_type_id: uuid.UUID) -> None:
    assert desk.reserve(uuid.uuid4(), seats(uuid.uuid4(), "1A"))[1]["reason"] == "not_sellable"
    far = TOMORROW + timedelta(days=9)
    assert (
        desk.reserve(uuid.uuid4(), rooms(room_type_id, far, far + timedelta(days=2)))[1]["reason"]
        == "rooms_unavailable"
    )


def test_a_redelivered_reserve_has_one_effect_and_one_reply(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    from tripline.contracts.inventory import ReserveInventory
    from tripline.messaging.envelope import Envelope

    booking = uuid.uuid4()
    command = ReserveInventory.model_validate(
        {"booking_id": booking, "items": [seats(schedule_id, "1A")], "hold_seconds": 600}
    )
    envelope = Envelope.wrap(command, source="bookings", correlation_id=str(booking))

    outcomes = [desk.deliver(envelope) for _ in range(3)]

    assert [outcome.value for outcome in outcomes] == ["applied", "duplicate", "duplicate"]
    assert desk.reply_to(envelope)[0] == "reserved"
    assert available_seats(database_url, schedule_id) == 39


def test_a_repeated_reserve_for_the_same_booking_repeats_the_first_answer(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()
    first = desk.reserve(booking, seats(schedule_id, "1A"))

    again = desk.reserve(booking, seats(schedule_id, "1A"))

    assert again == first
    assert available_seats(database_url, schedule_id) == 39
    rejected_booking = uuid.uuid4()
    assert desk.reserve(rejected_booking, seats(schedule_id, "1A")) == desk.reserve(
        rejected_booking, seats(schedule_id, "1B")
    )


def test_confirm_and_release_repeated_have_one_effect(
    desk: HoldDesk, schedule_id: uuid.UUID, room_type_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()
    desk.reserve(booking, seats(schedule_id, "1A", "1B"), rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=1)))

    assert [desk.confirm(booking)[0] for _ in range(2)] == ["confirmed", "confirmed"]
    assert seat_states(database_url, schedule_id)["1A"] == ("sold", booking)
    assert night_counts(database_url, room_type_id)[TOMORROW] == (3, 0, 1)

    first, second = desk.release(booking), desk.release(booking)

    assert (first[0], first[1]["was_held"]) == ("released", True)
    assert (second[0], second[1]["was_held"]) == ("released", False)
    assert seat_states(database_url, schedule_id)["1A"] == ("free", None)
    assert available_seats(database_url, schedule_id) == 40
    assert night_counts(database_url, room_type_id)[TOMORROW] == (3, 0, 0)


def test_a_release_before_the_reserve_makes_the_later_reserve_rejected(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()

    released = desk.release(booking)
    kind, reply = desk.reserve(booking, seats(schedule_id, "1A"))

    assert (released[0], released[1]["was_held"]) == ("released", False)
    assert (kind, reply["reason"]) == ("rejected", "hold_released")
    assert seat_states(database_url, schedule_id)["1A"] == ("free", None)


def test_a_lapsed_hold_confirms_within_its_grace(desk: HoldDesk, schedule_id: uuid.UUID, database_url: str) -> None:
    booking = uuid.uuid4()
    desk.reserve(booking, seats(schedule_id, "1A"))
    desk.lapse(booking, by=timedelta(seconds=60))

    assert desk.sweep() == 0
    assert desk.confirm(booking)[0] == "confirmed"
    assert seat_states(database_url, schedule_id)["1A"] == ("sold", booking)


def test_after_the_sweeper_a_lapsed_hold_is_free_and_cannot_confirm(
    desk: HoldDesk, schedule_id: uuid.UUID, room_type_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()
    desk.reserve(booking, seats(schedule_id, "1A"), rooms(room_type_id, TOMORROW, TOMORROW + timedelta(days=1)))
    desk.lapse(booking, by=timedelta(seconds=121))

    assert desk.sweep() == 1

    [expired] = outbox_payloads(database_url, "inventory.evt.hold.expired")
    assert expired["booking_id"] == str(booking)
    assert seat_states(database_url, schedule_id)["1A"] == ("free", None)
    assert available_seats(database_url, schedule_id) == 40
    assert night_counts(database_url, room_type_id)[TOMORROW] == (3, 0, 0)
    kind, reply = desk.confirm(booking)
    assert (kind, reply["reason"]) == ("confirm_rejected", "hold_lapsed")
    assert desk.sweep() == 0


def test_a_confirm_past_the_grace_before_the_sweeper_expires_the_hold(
    desk: HoldDesk, schedule_id: uuid.UUID, database_url: str
) -> None:
    booking = uuid.uuid4()
    desk.reserve(booking, seats(schedule_id, "1A"))
    desk.lapse(booking, by=timedelta(seconds=121))

    kind, reply = desk.confirm(booking)

    assert (kind, reply["reason"]) == ("confirm_rejected", "hold_lapsed")
    assert seat_states(database_url, schedule_id)["1A"] == ("free", None)
    assert len(outbox_payloads(database_url, "inventory.evt.hold.expired")) == 1


def test_concurrent_sweepers_expire_each_hold_once(desk: HoldDesk, schedule_id: uuid.UUID, database_url: str) -> None:
    bookings = [uuid.uuid4() for _ in range(30)]
    for n, booking in enumerate(bookings):
        desk.reserve(booking, seats(schedule_id, catalog.seat_labels(40)[n]))
        desk.lapse(booking, by=timedelta(seconds=300))

    with ThreadPoolExecutor(max_workers=4) as pool:
        swept = list(pool.map(lambda _: desk.sweep(), range(4)))

    assert sum(swept) == 30
    expired = outbox_payloads(database_url, "inventory.evt.hold.expired")
    assert sorted(payload["booking_id"] for payload in expired) == sorted(str(b) for b in bookings)
    assert available_seats(database_url, schedule_id) == 40


def test_confirming_an_unknown_or_rejected_hold_is_refused(desk: HoldDesk, schedule_id: uuid.UUID) -> None:
    assert desk.confirm(uuid.uuid4())[1]["reason"] == "hold_unknown"
    rejected = uuid.uuid4()
    desk.reserve(rejected, seats(schedule_id, "99Z"))
    assert desk.confirm(rejected)[0] == "confirm_rejected"
