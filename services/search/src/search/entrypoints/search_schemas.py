"""The shapes of ``/v1/search``: query strings in, pages of trips and hotels out, and the cursors between pages."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field, ValidationInfo, field_validator

from search.domain.criteria import BusSort, HotelSort, StayCriteria, TripCriteria, place_key
from tripline.contracts.inventory import (
    AMENITY_PATTERN,
    MAX_GUESTS_PER_ITEM,
    MAX_PLACE_NAME_LENGTH,
    MAX_ROOMS_PER_ITEM,
    MAX_SEATS_PER_ITEM,
    MAX_STAY_NIGHTS,
    BusType,
)
from tripline.http.responses import Timestamp
from tripline.http.validation import MAX_AMOUNT_MINOR, ApiModel, Money, PageQuery

MAX_AMENITY_FILTERS = 30
LAST_DAY = dt.date.max - dt.timedelta(days=1)  # a search covers the day after its date too
# Cursor positions are compared with bigint columns: anything outside that range is not a cursor this API issued.
Bigint = Annotated[int, Field(ge=-(2**63), lt=2**63)]
_AMENITY = re.compile(AMENITY_PATTERN)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _calendar_date(value: object) -> object:
    """Only ``YYYY-MM-DD``, as the contract writes dates: a time of day would be read as its date and ignored."""
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("Date must be written YYYY-MM-DD")
    return value


def _a_place(name: str) -> str:
    if not place_key(name):
        raise ValueError("Must not be blank")
    return name


def _amenity_list(value: object) -> object:
    """``wifi,pool``, or the parameter repeated, as one list of tokens."""
    values = value if isinstance(value, list) else [value]
    texts = [item for item in values if isinstance(item, str)]
    if len(texts) != len(values):
        return value  # not text: the list validation reports it
    return [token.strip().lower() for item in texts for token in item.split(",") if token.strip()]


def _amenity(token: str) -> str:
    if not _AMENITY.fullmatch(token):
        raise ValueError("Amenity must be 1 to 32 of a-z, 0-9 and _")
    return token


CalendarDate = Annotated[dt.date, BeforeValidator(_calendar_date)]
Place = Annotated[str, Field(min_length=1, max_length=MAX_PLACE_NAME_LENGTH), AfterValidator(_a_place)]
AmountMinor = Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR)]
Amenities = Annotated[
    list[Annotated[str, AfterValidator(_amenity)]],
    BeforeValidator(_amenity_list),
    Field(max_length=MAX_AMENITY_FILTERS, description="Comma-separated, e.g. wifi,pool; every one must be offered"),
]


# Queries -------------------------------------------------------------------------------------------------------


class BusQuery(PageQuery):
    """``GET /v1/search/buses``."""

    origin: Place
    destination: Place
    date: Annotated[CalendarDate, Field(le=LAST_DAY, description="The departure's date in UTC")]
    seats: Annotated[int, Field(ge=1, le=MAX_SEATS_PER_ITEM)] = 1
    sort: BusSort = "departure"
    max_fare_minor: AmountMinor | None = None
    bus_type: BusType | None = None

    def criteria(self) -> TripCriteria:
        """What the traveller asks for, in the domain's terms."""
        return TripCriteria(
            origin=self.origin,
            destination=self.destination,
            day=self.date,
            seats=self.seats,
            sort=self.sort,
            max_fare_minor=self.max_fare_minor,
            bus_type=self.bus_type,
        )


class HotelQuery(PageQuery):
    """``GET /v1/search/hotels``."""

    city: Place
    check_in: CalendarDate
    check_out: CalendarDate
    rooms: Annotated[int, Field(ge=1, le=MAX_ROOMS_PER_ITEM)] = 1
    guests: Annotated[int, Field(ge=1, le=MAX_GUESTS_PER_ITEM)] = 1
    sort: HotelSort = "price"
    min_stars: Annotated[int, Field(ge=1, le=5)] | None = None
    max_price_minor: Annotated[AmountMinor | None, Field(description="Most a room may cost for the whole stay")] = None
    amenities: Amenities = Field(default_factory=list)

    def criteria(self) -> StayCriteria:
        """What the traveller asks for, in the domain's terms."""
        return StayCriteria(
            city=self.city,
            check_in=self.check_in,
            check_out=self.check_out,
            rooms=self.rooms,
            guests=self.guests,
            sort=self.sort,
            min_stars=self.min_stars,
            max_price_minor=self.max_price_minor,
            amenities=tuple(self.amenities),
        )

    @field_validator("check_out")
    @classmethod
    def _a_stay(cls, check_out: dt.date, info: ValidationInfo) -> dt.date:
        check_in = info.data.get("check_in")  # absent when check_in itself was invalid, and reported
        # Counted, not added: adding 30 days to a date late in year 9999 would overflow.
        if check_in is not None and not 0 < (check_out - check_in).days <= MAX_STAY_NIGHTS:
            raise ValueError(f"Must be 1 to {MAX_STAY_NIGHTS} nights after check_in")
        return check_out


# Results -------------------------------------------------------------------------------------------------------


class OperatorRef(ApiModel):
    """Who runs the bus."""

    id: uuid.UUID
    name: str


class Trip(ApiModel):
    """One departure with free seats."""

    schedule_id: uuid.UUID
    operator: OperatorRef
    origin: str
    destination: str
    departs_at: Timestamp
    arrives_at: Timestamp
    duration_minutes: int
    fare: Money
    available_seats: int
    bus_type: str
    amenities: list[str]


class TripPage(ApiModel):
    """Trips in the requested order."""

    items: list[Trip]
    next_cursor: str | None


class RoomOffer(ApiModel):
    """A room type with the rooms free every night of the stay; ``total_price`` is the stay's price per room."""

    room_type_id: uuid.UUID
    name: str
    capacity: int
    available_rooms: int
    total_price: Money


class HotelOffer(ApiModel):
    """A hotel with at least one fitting room type; ``min_price`` is the cheapest of their stay prices."""

    hotel_id: uuid.UUID
    name: str
    city: str
    stars: int
    amenities: list[str]
    min_price: Money
    room_types: list[RoomOffer]


class HotelPage(ApiModel):
    """Hotels in the requested order."""

    items: list[HotelOffer]
    next_cursor: str | None


# Cursors -------------------------------------------------------------------------------------------------------


class TripCursor(BaseModel):
    """Where a page of trips ends, and the sort it was read in."""

    sort: BusSort
    rank: Bigint
    departs_at: AwareDatetime
    schedule_id: uuid.UUID


class HotelCursor(BaseModel):
    """Where a page of hotels ends, and the sort it was read in."""

    sort: HotelSort
    rank: Bigint
    min_price_minor: Bigint
    hotel_id: uuid.UUID
