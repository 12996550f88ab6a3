"""The read model applies inventory's events by version: duplicates and reordering leave it as in-order delivery."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from search.adapters.tables import READ_MODEL
from search.bootstrap import PROJECTION
from tripline.contracts.inventory import RoomTypeView, SeatsChanged
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import Envelope

from ..supply import ReadModel, hotel, nights, operator, owner, room, schedule, seats, soon


def _row(read_model: ReadModel, table: str) -> list[Any]:
    return read_model.tables()[table]


def test_an_operator_keeps_its_newest_approval_whatever_arrives_later(read_model: ReadModel) -> None:
    operator_id = uuid.uuid4()
    read_model.apply(operator(operator_id, "pending", 1), operator(operator_id, "suspended", 3))
    read_model.apply(operator(operator_id, "approved", 2))

    assert _row(read_model, "operators") == [(operator_id, "Konkan Travels", "suspended", 3)]


def test_a_schedule_keeps_its_description_and_its_seats_by_their_own_versions(read_model: ReadModel) -> None:
    schedule_id, operator_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(seats(schedule_id, 31, version=4))  # seats before the schedule itself: kept
    read_model.apply(schedule(schedule_id, operator_id, version=2, seats_version=3, available_seats=35, fare_minor=99))
    read_model.apply(schedule(schedule_id, operator_id, version=1, status="cancelled"))  # older: ignored

    [trip] = read_model.sql("SELECT status, fare_minor, version FROM trips")
    assert tuple(trip) == ("active", 99, 2)
    assert _row(read_model, "trip_seats") == [(schedule_id, 31, 4)]


def test_a_duplicate_delivery_and_a_repeated_event_change_nothing(read_model: ReadModel) -> None:
    schedule_id, operator_id = uuid.uuid4(), uuid.uuid4()
    [first] = read_model.apply(schedule(schedule_id, operator_id, available_seats=40))
    read_model.apply(seats(schedule_id, 38, version=2))
    before = read_model.tables()

    read_model.deliver(first)  # the same message again: the inbox knows it
    read_model.apply(schedule(schedule_id, operator_id, available_seats=40))  # a new message, an old version

    assert read_model.tables() == before
    assert _row(read_model, "trip_seats") == [(schedule_id, 38, 2)]


def test_a_newer_hotel_picture_replaces_its_room_types_and_an_older_one_does_not(read_model: ReadModel) -> None:
    hotel_id, owner_id, kept, dropped = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(hotel(hotel_id, owner_id, [room(kept), room(dropped, "Suite", 4)], version=1))
    read_model.apply(hotel(hotel_id, owner_id, [room(kept, "Deluxe King")], version=2))
    read_model.apply(hotel(hotel_id, owner_id, [room(kept), room(dropped, "Suite", 4)], version=1))

    assert [(r[0], r[2]) for r in _row(read_model, "room_types")] == [(kept, "Deluxe King")]


def test_each_room_night_keeps_its_own_newest_version(read_model: ReadModel) -> None:
    room_type_id, hotel_id, first = uuid.uuid4(), uuid.uuid4(), soon().date()
    read_model.apply(nights(room_type_id, hotel_id, first, 3, available=5, version=2))
    read_model.apply(nights(room_type_id, hotel_id, first + timedelta(days=1), 3, available=1, version=1))

    rows = read_model.sql("SELECT night, available, version FROM room_nights ORDER BY night")
    assert [(row.night - first).days for row in rows] == [0, 1, 2, 3]
    assert [(row.available, row.version) for row in rows] == [(5, 2), (5, 2), (5, 2), (1, 1)]


def test_applying_an_event_records_the_projection_lag(read_model: ReadModel) -> None:
    labels = {"event": "inventory.seats_changed"}
    before = REGISTRY.get_sample_value("tripline_search_projection_lag_seconds_count", labels) or 0.0

    read_model.apply(seats(uuid.uuid4(), 3, version=1), seats(uuid.uuid4(), 4, version=1))

    assert REGISTRY.get_sample_value("tripline_search_projection_lag_seconds_count", labels) == before + 2


def test_a_change_rolled_back_records_no_projection_lag(read_model: ReadModel) -> None:
    labels = {"event": "inventory.seats_changed"}
    before = REGISTRY.get_sample_value("tripline_search_projection_lag_seconds_count", labels) or 0.0
    envelope = Envelope.wrap(seats(uuid.uuid4(), 3, version=1), source="inventory")

    with read_model.unit_of_work() as uow:  # applied, then rolled back: never visible in search
        PROJECTION[SeatsChanged](envelope.open(), envelope, uow)

    assert (REGISTRY.get_sample_value("tripline_search_projection_lag_seconds_count", labels) or 0.0) == before


# Any order, any duplicates -------------------------------------------------------------------------------------


@dataclass
class Inventory:
    """A small inventory whose changes are told as the events inventory would send, versions and all."""

    operator_id: uuid.UUID = field(default_factory=uuid.uuid4)
    owner_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schedule_ids: tuple[uuid.UUID, ...] = field(default_factory=lambda: (uuid.uuid4(), uuid.uuid4()))
    hotel_id: uuid.UUID = field(default_factory=uuid.uuid4)
    room_ids: tuple[uuid.UUID, ...] = field(default_factory=lambda: (uuid.uuid4(), uuid.uuid4()))
    first_night: date = field(default_factory=lambda: soon(2).date())
    versions: dict[Any, int] = field(default_factory=dict)
    events: list[Contract] = field(default_factory=list)

    def next_version(self, key: Any) -> int:
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    def change(self, step: tuple[str, int, int]) -> None:
        kind, which, value = step
        getattr(self, f"_{kind}")(which, value)

    def _approval(self, which: int, value: int) -> None:
        status = ("pending", "approved", "suspended", "rejected")[value % 4]
        if which % 2:
            self.events.append(owner(self.owner_id, status, self.next_version("owner")))
        else:
            self.events.append(operator(self.operator_id, status, self.next_version("operator")))

    def _schedule(self, which: int, value: int) -> None:
        schedule_id = self.schedule_ids[which % 2]
        self.events.append(
            schedule(
                schedule_id,
                self.operator_id,
                status="cancelled" if value % 5 == 0 else "active",
                fare_minor=1_000 * value,
                version=self.next_version(("schedule", schedule_id)),
                seats_version=self.versions.setdefault(("seats", schedule_id), 1),
                available_seats=self.versions.setdefault(("free", schedule_id), 40),
            )
        )

    def _seats(self, which: int, value: int) -> None:
        schedule_id = self.schedule_ids[which % 2]
        self.versions[("free", schedule_id)] = value % 41
        version = self.versions.setdefault(("seats", schedule_id), 1) + 1
        self.versions[("seats", schedule_id)] = version
        self.events.append(seats(schedule_id, value % 41, version))

    def _hotel(self, which: int, value: int) -> None:
        rooms: list[RoomTypeView] = [room(self.room_ids[0], f"Deluxe {value}")]
        if which % 2:
            rooms.append(room(self.room_ids[1], "Suite", 4))
        self.events.append(
            hotel(
                self.hotel_id,
                self.owner_id,
                rooms,
                stars=1 + value % 5,
                is_active=value % 3 != 0,
                version=self.next_version("hotel"),
            )
        )

    def _nights(self, which: int, value: int) -> None:
        room_type_id = self.room_ids[which % 2]
        start = self.first_night + timedelta(days=value % 3)
        version = self.next_version(("nights", room_type_id, start))
        self.events.append(
            nights(room_type_id, self.hotel_id, start, 1, available=value % 6, rate_minor=100 * value, version=version)
        )


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["approval", "schedule", "seats", "hotel", "nights"]),
        st.integers(0, 1),
        st.integers(1, 60),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, seed=st.integers(0, 2**32 - 1))
def test_shuffled_and_repeated_events_build_the_same_read_model_as_in_order(
    read_model: ReadModel, steps: list[tuple[str, int, int]], seed: int
) -> None:
    inventory = Inventory()
    for step in steps:
        inventory.change(step)
    in_order = _built_from(read_model, inventory.events)

    shuffled = inventory.events + random.Random(seed).sample(inventory.events, len(inventory.events) // 2)
    random.Random(seed).shuffle(shuffled)

    assert _built_from(read_model, shuffled) == in_order


def _built_from(read_model: ReadModel, events: list[Contract]) -> dict[str, Any]:
    read_model.sql("TRUNCATE " + ", ".join(table.name for table in READ_MODEL) + ", inbox")
    read_model.apply(*events)
    return read_model.tables()
