"""Buses and their schedules: what a seat map, a bus and a departure must be before anyone can sell them."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from inventory.domain.amenities import amenity_violations
from inventory.domain.violations import RulesBroken, Violation, item_violations, unit_price_violations
from tripline.contracts.inventory import MAX_PLACE_NAME_LENGTH, BusType

ShownSeatStatus = Literal["available", "held", "sold"]

MAX_SEATS = 100
MAX_REGISTRATION_LENGTH = 20
SEAT_LABEL = re.compile(r"[A-Za-z0-9-]{1,8}")

# Inside inventory a seat is free, held or sold; travellers read "free" as "available".
SEAT_STATUS_SHOWN: dict[str, ShownSeatStatus] = {"free": "available", "held": "held", "sold": "sold"}


class ScheduleStatus(enum.StrEnum):
    """Whether a departure still runs."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class AlreadyCancelled(Exception):
    """The schedule was cancelled before."""


class AlreadyDeparted(Exception):
    """The bus has left: there is nothing left to cancel."""


@dataclass(frozen=True, slots=True)
class BusSpec:
    """A bus that keeps every rule, its registration normalised."""

    registration: str
    bus_type: BusType
    amenities: tuple[str, ...]
    seat_labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Departure:
    """A schedule that keeps every rule: trimmed place names, UTC times, a fare in minor units."""

    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    fare_minor: int
    currency: str


def describe_bus(registration: str, bus_type: BusType, amenities: Sequence[str], seats: Sequence[str]) -> BusSpec:
    """The bus as it will be kept, or ``RulesBroken`` naming every bad field."""
    violations = [*registration_violations(registration), *amenity_violations(amenities), *seat_map_violations(seats)]
    if violations:
        raise RulesBroken(violations)
    return BusSpec(normalised_registration(registration), bus_type, tuple(amenities), tuple(seats))


def normalised_registration(registration: str) -> str:
    """Registrations compare as written on the plate: no surrounding spaces, upper case."""
    return registration.strip().upper()


def registration_violations(registration: str) -> list[Violation]:
    """A registration is 1-20 printable characters once normalised."""
    plate = normalised_registration(registration)
    if not 1 <= len(plate) <= MAX_REGISTRATION_LENGTH:
        return [Violation("registration", f"Registration must be 1 to {MAX_REGISTRATION_LENGTH} characters")]
    if not plate.isprintable():
        return [Violation("registration", "Registration must not contain control characters")]
    return []


def seat_map_violations(labels: Sequence[str]) -> list[Violation]:
    """1-100 distinct seat labels, each 1-8 letters, digits or hyphens."""
    if not 1 <= len(labels) <= MAX_SEATS:
        return [Violation("seats", f"A bus has 1 to {MAX_SEATS} seats")]
    return item_violations("seats", labels, SEAT_LABEL, "Seat label must be 1 to 8 letters, digits or hyphens")


def plan_departure(
    origin: str,
    destination: str,
    departs_at: datetime,
    arrives_at: datetime,
    fare_minor: int,
    currency: str,
    *,
    now: datetime,
) -> Departure:
    """The schedule as it will be kept, or ``RulesBroken`` naming every bad field."""
    violations = [
        *route_violations(origin, destination),
        *timing_violations(departs_at, arrives_at, now),
        *unit_price_violations("fare", fare_minor),
    ]
    if violations:
        raise RulesBroken(violations)
    return Departure(
        origin.strip(),
        destination.strip(),
        departs_at.astimezone(UTC),
        arrives_at.astimezone(UTC),
        fare_minor,
        currency,
    )


def route_violations(origin: str, destination: str) -> list[Violation]:
    """Both places named (1-100 printable characters, trimmed), and not the same place."""
    violations = [*_place_violations("origin", origin), *_place_violations("destination", destination)]
    if not violations and origin.strip().casefold() == destination.strip().casefold():
        violations.append(Violation("destination", "Destination must differ from origin"))
    return violations


def _place_violations(field: str, name: str) -> list[Violation]:
    place = name.strip()
    if not 1 <= len(place) <= MAX_PLACE_NAME_LENGTH:
        return [Violation(field, f"Must be 1 to {MAX_PLACE_NAME_LENGTH} characters")]
    if not place.isprintable():
        return [Violation(field, "Must not contain control characters")]
    return []


def timing_violations(departs_at: datetime, arrives_at: datetime, now: datetime) -> list[Violation]:
    """Both times absolute and representable, departure in the future, arrival after it."""
    violations = [*_instant_violations("departs_at", departs_at), *_instant_violations("arrives_at", arrives_at)]
    if violations:
        return violations
    if departs_at <= now:
        violations.append(Violation("departs_at", "Departure must be in the future"))
    if arrives_at <= departs_at:
        violations.append(Violation("arrives_at", "Arrival must be after departure"))
    return violations


def _instant_violations(field: str, moment: datetime) -> list[Violation]:
    # A naive time is ambiguous by up to a day, and cannot be compared with an aware one at all.
    if moment.utcoffset() is None:
        return [Violation(field, "Timestamp must include a timezone offset")]
    try:
        moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past datetime.max in UTC
        return [Violation(field, "Timestamp is out of range")]
    return []


def ensure_cancellable(status: str, departs_at: datetime, now: datetime) -> None:
    """Only an active schedule that has not yet departed can be cancelled."""
    if status == ScheduleStatus.CANCELLED:
        raise AlreadyCancelled()
    if departs_at <= now:
        raise AlreadyDeparted()


def shown_seat_status(status: str) -> ShownSeatStatus:
    """A seat's status as the seat map shows it."""
    return SEAT_STATUS_SHOWN[status]
