"""The ``/v1/bookings`` request and response models: the contract's shapes, validated and documented from here."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints, ValidationInfo, field_validator

from bookings.domain.lifecycle import Status
from tripline.contracts.inventory import (
    MAX_GUESTS_PER_ITEM,
    MAX_ITEMS,
    MAX_ROOMS_PER_ITEM,
    MAX_SEATS_PER_ITEM,
    each_seat_once,
)
from tripline.http.problems import FieldError
from tripline.http.responses import Timestamp
from tripline.http.validation import ApiModel, Money, PageQuery

MAX_STAY_NIGHTS = 30
MAX_WAIT_SECONDS = 30

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# Requests --------------------------------------------------------------------------------------------------------


class Passenger(ApiModel):
    """One traveller, for one seat."""

    name: Text
    age: Annotated[StrictInt, Field(ge=0, le=130)]


class BusSeatsItem(ApiModel):
    """Named seats on one schedule, a passenger for each."""

    type: Literal["bus_seats"]
    schedule_id: uuid.UUID
    seats: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=8)]],
        Field(min_length=1, max_length=MAX_SEATS_PER_ITEM),
    ]
    passengers: Annotated[list[Passenger], Field(min_length=1, max_length=MAX_SEATS_PER_ITEM)]

    # Field validators, not one on the whole item, so an error names the field the client must change.
    _each_seat_once = field_validator("seats")(each_seat_once)

    @field_validator("passengers")
    @classmethod
    def _one_passenger_per_seat(cls, passengers: list[Passenger], info: ValidationInfo) -> list[Passenger]:
        seats = info.data.get("seats")
        if seats is not None and len(passengers) != len(seats):
            raise ValueError("give exactly one passenger per seat")
        return passengers


class HotelRoomsItem(ApiModel):
    """Rooms of one room type for every night from check-in to check-out."""

    type: Literal["hotel_rooms"]
    room_type_id: uuid.UUID
    check_in: date
    check_out: date
    rooms: Annotated[StrictInt, Field(ge=1, le=MAX_ROOMS_PER_ITEM)]
    guests: Annotated[StrictInt, Field(ge=1, le=MAX_GUESTS_PER_ITEM)]

    @field_validator("check_out")
    @classmethod
    def _a_real_stay(cls, check_out: date, info: ValidationInfo) -> date:
        check_in = info.data.get("check_in")
        if check_in is not None and check_out <= check_in:
            raise ValueError("check_out must be after check_in")
        if check_in is not None and check_out - check_in > timedelta(days=MAX_STAY_NIGHTS):
            raise ValueError(f"a stay is at most {MAX_STAY_NIGHTS} nights")
        return check_out


BookingItem = Annotated[BusSeatsItem | HotelRoomsItem, Field(discriminator="type")]


class PaymentChoice(ApiModel):
    """How to pay: the wallet is the one method."""

    method: Literal["wallet"]


class NewBooking(ApiModel):
    """Up to five items reserved together or not at all; with ``payment`` the booking is paid once reserved."""

    items: Annotated[list[BookingItem], Field(min_length=1, max_length=MAX_ITEMS)]
    payment: PaymentChoice | None = None

    def seat_asked_twice(self) -> FieldError | None:
        """The first item naming a seat an earlier item of the same schedule already names, if any."""
        seen: set[tuple[uuid.UUID, str]] = set()
        for n, item in enumerate(self.items):
            if isinstance(item, BusSeatsItem):
                seats = {(item.schedule_id, seat) for seat in item.seats}
                if seats & seen:
                    return FieldError(f"items[{n}].seats", "a seat of this schedule is asked for in an earlier item")
                seen |= seats
        return None


class CancelRequest(ApiModel):
    """Why the booking is cancelled."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = "not given"


class WaitQuery(ApiModel):
    """``?wait=N``: answer once the booking is not transitional, or after N seconds."""

    wait: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)] = 0


class BookingQuery(PageQuery):
    """A page of bookings; ``customer_id``, ``include_deleted`` and ``stuck`` are for admins."""

    status: Status | None = None
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    include_deleted: bool = False
    stuck: bool = False


# Responses -------------------------------------------------------------------------------------------------------


class BookedBusSeats(BusSeatsItem):
    """Seats as booked: ``price`` is null until inventory has held them."""

    price: Money | None


class BookedHotelRooms(HotelRoomsItem):
    """Rooms as booked: ``price`` (the whole stay) is null until inventory has held them."""

    price: Money | None


BookedItem = Annotated[BookedBusSeats | BookedHotelRooms, Field(discriminator="type")]


class Failure(ApiModel):
    """Why the booking failed or its payment was declined."""

    code: str
    message: str


class Booking(ApiModel):
    """A booking and where it stands; each item has its ``price`` once inventory has held it."""

    id: uuid.UUID
    customer_id: str
    status: Status
    items: list[BookedItem]
    total: Money | None
    payment: PaymentChoice | None
    created_at: Timestamp
    reserved_at: Timestamp | None
    expires_at: Timestamp | None
    payment_requested_at: Timestamp | None
    confirmed_at: Timestamp | None
    completed_at: Timestamp | None
    cancelled_at: Timestamp | None
    expired_at: Timestamp | None
    failed_at: Timestamp | None
    deleted_at: Timestamp | None
    failure: Failure | None
    refund: Money | None


class BookingPage(ApiModel):
    """Bookings, newest first."""

    items: list[Booking]
    next_cursor: str | None


class Transition(ApiModel):
    """One status change: ``from`` is null for the first."""

    from_status: Status | None = Field(serialization_alias="from")
    to: Status
    at: Timestamp
    reason: str


class History(ApiModel):
    """Every status change, oldest first."""

    items: list[Transition]


class CursorPosition(BaseModel):
    """Where a page of bookings ends: the last booking's creation time and id."""

    created_at: datetime
    id: uuid.UUID
