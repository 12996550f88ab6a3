from datetime import UTC, datetime, timedelta, timezone

import pytest

from inventory.domain.amenities import amenity_violations
from inventory.domain.fleet import (
    AlreadyCancelled,
    AlreadyDeparted,
    describe_bus,
    ensure_cancellable,
    plan_departure,
    registration_violations,
    route_violations,
    seat_map_violations,
    shown_seat_status,
    timing_violations,
)
from inventory.domain.violations import RulesBroken, Violation

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DEPARTS = NOW + timedelta(days=1)
ARRIVES = DEPARTS + timedelta(hours=9)


def fields(violations: list[Violation]) -> list[str]:
    return [violation.field for violation in violations]


def test_a_valid_bus_is_kept_with_its_registration_stripped_and_upper_cased() -> None:
    bus = describe_bus("  mh-01-ab-1234 ", "sleeper", ["ac", "wifi"], ["1A", "1B"])
    assert (bus.registration, bus.bus_type, bus.amenities, bus.seat_labels) == (
        "MH-01-AB-1234",
        "sleeper",
        ("ac", "wifi"),
        ("1A", "1B"),
    )


def test_a_bus_breaking_several_rules_names_every_field() -> None:
    with pytest.raises(RulesBroken) as broken:
        describe_bus("", "seater", ["Wi-Fi"], [])
    assert fields(list(broken.value.violations)) == ["registration", "amenities[0]", "seats"]


@pytest.mark.parametrize("count", [1, 100])
def test_one_to_a_hundred_seats_are_allowed(count: int) -> None:
    assert seat_map_violations([f"S{i}" for i in range(count)]) == []


@pytest.mark.parametrize("count", [0, 101])
def test_fewer_than_one_or_more_than_a_hundred_seats_are_refused(count: int) -> None:
    assert fields(seat_map_violations([f"S{i}" for i in range(count)])) == ["seats"]


@pytest.mark.parametrize("label", ["1A", "a", "12345678", "UPPER-1", "x-y"])
def test_seat_labels_are_one_to_eight_letters_digits_or_hyphens(label: str) -> None:
    assert seat_map_violations(["Z9", label]) == []


@pytest.mark.parametrize("label", ["", "123456789", "1 A", "1_A", "1A\n", "१A", "1/A"])
def test_other_seat_labels_are_refused_at_their_index(label: str) -> None:
    assert fields(seat_map_violations(["Z9", label])) == ["seats[1]"]


def test_a_repeated_seat_label_is_refused_where_it_reappears() -> None:
    assert fields(seat_map_violations(["1A", "1B", "1A", "2A", "1B"])) == ["seats[2]", "seats[4]"]


def test_violations_are_ordered_by_index() -> None:
    labels = [f"S{i}" for i in range(12)] + ["S1", "bad label"]
    assert fields(seat_map_violations(labels)) == ["seats[12]", "seats[13]"]


@pytest.mark.parametrize("registration", ["A", "R" * 20, "  mh 01 ab 1234  "])
def test_registrations_of_one_to_twenty_characters_are_allowed(registration: str) -> None:
    assert registration_violations(registration) == []


@pytest.mark.parametrize("registration", ["", "   ", "R" * 21, "MH\x00 01", "MH\u200b01"])
def test_empty_long_or_unprintable_registrations_are_refused(registration: str) -> None:
    assert fields(registration_violations(registration)) == ["registration"]


def test_amenities_are_up_to_thirty_distinct_lowercase_tokens() -> None:
    assert amenity_violations([]) == []
    assert amenity_violations([f"amenity_{i}" for i in range(30)]) == []
    assert amenity_violations(["a" * 32, "usb_2"]) == []
    assert fields(amenity_violations([f"a{i}" for i in range(31)])) == ["amenities"]
    assert fields(amenity_violations(["ac", "AC", "wi-fi", "a" * 33, "", "ac"])) == [
        "amenities[1]",
        "amenities[2]",
        "amenities[3]",
        "amenities[4]",
        "amenities[5]",
    ]


def test_a_valid_departure_is_kept_trimmed_and_in_utc() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    departure = plan_departure(
        " Mumbai ", "Goa  ", DEPARTS.astimezone(ist), ARRIVES.astimezone(ist), 125000, "INR", now=NOW
    )
    assert (departure.origin, departure.destination) == ("Mumbai", "Goa")
    assert (departure.departs_at, departure.arrives_at) == (DEPARTS, ARRIVES)
    assert departure.departs_at.utcoffset() == timedelta(0)
    assert (departure.fare_minor, departure.currency) == (125000, "INR")


@pytest.mark.parametrize(("origin", "destination"), [("Goa", "goa"), (" Mumbai", "MUMBAI "), ("Pune", "pune")])
def test_origin_and_destination_must_differ_ignoring_case_and_spaces(origin: str, destination: str) -> None:
    assert fields(route_violations(origin, destination)) == ["destination"]


@pytest.mark.parametrize(
    ("origin", "destination"), [("", "Goa"), ("Goa", "   "), ("M" * 101, "Goa"), ("Go\ta", "Pune")]
)
def test_place_names_are_one_to_a_hundred_printable_characters(origin: str, destination: str) -> None:
    assert len(route_violations(origin, destination)) == 1


def test_a_hundred_character_place_name_is_allowed() -> None:
    assert route_violations("M" * 100, "Goa") == []


@pytest.mark.parametrize("departs_at", [NOW, NOW - timedelta(seconds=1)])
def test_a_departure_must_be_in_the_future(departs_at: datetime) -> None:
    assert fields(timing_violations(departs_at, departs_at + timedelta(hours=1), NOW)) == ["departs_at"]


@pytest.mark.parametrize("arrives_at", [DEPARTS, DEPARTS - timedelta(minutes=1)])
def test_arrival_must_be_after_departure(arrives_at: datetime) -> None:
    assert fields(timing_violations(DEPARTS, arrives_at, NOW)) == ["arrives_at"]


def test_naive_times_are_refused_before_any_comparison() -> None:
    naive = DEPARTS.replace(tzinfo=None)
    assert fields(timing_violations(naive, ARRIVES, NOW)) == ["departs_at"]
    assert fields(timing_violations(DEPARTS, ARRIVES.replace(tzinfo=None), NOW)) == ["arrives_at"]


def test_times_beyond_what_utc_can_represent_are_refused() -> None:
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert fields(timing_violations(DEPARTS, late, NOW)) == ["arrives_at"]


def test_a_departure_breaking_several_rules_names_every_field() -> None:
    with pytest.raises(RulesBroken) as broken:
        plan_departure("Goa", "GOA", NOW - timedelta(hours=1), NOW - timedelta(hours=2), 100, "INR", now=NOW)
    assert fields(list(broken.value.violations)) == ["destination", "departs_at", "arrives_at"]


def test_an_active_future_schedule_can_be_cancelled() -> None:
    ensure_cancellable("active", DEPARTS, NOW)


def test_a_cancelled_schedule_cannot_be_cancelled_again_even_after_departure() -> None:
    with pytest.raises(AlreadyCancelled):
        ensure_cancellable("cancelled", DEPARTS, NOW)
    with pytest.raises(AlreadyCancelled):
        ensure_cancellable("cancelled", NOW - timedelta(days=1), NOW)


@pytest.mark.parametrize("departs_at", [NOW, NOW - timedelta(minutes=1)])
def test_a_departed_schedule_cannot_be_cancelled(departs_at: datetime) -> None:
    with pytest.raises(AlreadyDeparted):
        ensure_cancellable("active", departs_at, NOW)


def test_the_seat_map_shows_free_seats_as_available() -> None:
    assert [shown_seat_status(s) for s in ("free", "held", "sold")] == ["available", "held", "sold"]
