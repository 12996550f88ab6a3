"""What a traveller asks search for, and the order the answers come in.

Pure values: the adapters turn them into SQL, the API builds them from query strings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

BusSort = Literal["departure", "price", "duration"]
HotelSort = Literal["price", "stars"]


def place_key(name: str) -> str:
    """A city name folded for matching, so ``new  delhi`` finds ``New Delhi``: case and runs of spaces ignored."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True, slots=True)
class TripCriteria:
    """Departures on one route on one day (UTC) with ``seats`` free seats."""

    origin: str
    destination: str
    day: date
    seats: int = 1
    sort: BusSort = "departure"
    max_fare_minor: int | None = None
    bus_type: str | None = None


@dataclass(frozen=True, slots=True)
class TripPosition:
    """Where a page of trips ends, in the order of its sort: the sort's rank, then departure, then id.

    The rank is the fare for ``price``, the duration for ``duration`` and 0 for ``departure``, so one keyset
    comparison ``(rank, departs_at, schedule_id)`` pages every order.
    """

    rank: int
    departs_at: datetime
    schedule_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class StayCriteria:
    """Hotels in a city with ``rooms`` rooms of one type free every night of ``[check_in, check_out)``."""

    city: str
    check_in: date
    check_out: date
    rooms: int = 1
    guests: int = 1
    sort: HotelSort = "price"
    min_stars: int | None = None
    max_price_minor: int | None = None
    amenities: tuple[str, ...] = ()

    @property
    def nights(self) -> int:
        """How many nights the stay lasts."""
        return (self.check_out - self.check_in).days


@dataclass(frozen=True, slots=True)
class HotelPosition:
    """Where a page of hotels ends: the sort's rank (minus the stars for ``stars``, else 0), price, then id."""

    rank: int
    min_price_minor: int
    hotel_id: uuid.UUID
