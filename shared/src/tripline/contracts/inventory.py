"""Inventory's commands (sent by bookings) and events (read by bookings and search).

The hold of a booking is named by the booking id: one booking, at most one hold, forever.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from tripline.contracts.values import MessageValue, Money
from tripline.messaging.contracts import Contract

MAX_ITEMS = 5
MAX_SEATS_PER_ITEM = 100
MAX_ROOMS_PER_ITEM = 100
MAX_GUESTS_PER_ITEM = 1_000
MAX_STAY_NIGHTS = 30
MAX_PLACE_NAME_LENGTH = 100
# Amenities are short tokens (``ac``, ``wifi``, ``pool``) that buses, hotels and room types advertise.
AMENITY_PATTERN = r"[a-z0-9_]{1,32}"

BusType = Literal["seater", "sleeper", "semi_sleeper"]

Version = Annotated[int, Field(ge=1)]


def each_seat_once(seats: list[str]) -> list[str]:
    """The seats of one item, refused when one is named twice."""
    if len(set(seats)) != len(seats):
        raise ValueError("a seat is named twice")
    return seats


# Commands ------------------------------------------------------------------------------------------------------


class BusSeatsRequest(MessageValue):
    """Named seats on one schedule."""

    type: Literal["bus_seats"] = "bus_seats"
    schedule_id: uuid.UUID
    seats: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=8)]], Field(min_length=1, max_length=MAX_SEATS_PER_ITEM)
    ]

    _each_seat_once = field_validator("seats")(each_seat_once)


class HotelRoomsRequest(MessageValue):
    """``rooms`` rooms of one room type for every night in ``[check_in, check_out)``."""

    type: Literal["hotel_rooms"] = "hotel_rooms"
    room_type_id: uuid.UUID
    check_in: date
    check_out: date
    rooms: Annotated[int, Field(ge=1, le=MAX_ROOMS_PER_ITEM)]
    # Who will stay; inventory refuses a stay whose rooms sleep fewer (``rooms_unavailable``). Optional for senders
    # that do not know their guests.
    guests: Annotated[int, Field(ge=1, le=MAX_GUESTS_PER_ITEM)] | None = None


ItemRequest = Annotated[BusSeatsRequest | HotelRoomsRequest, Field(discriminator="type")]


class ReserveInventory(Contract):
    """Hold every item of a booking, all or none, for ``hold_seconds``."""

    TYPE: ClassVar[str] = "inventory.reserve"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.cmd.reserve"

    booking_id: uuid.UUID
    items: Annotated[list[ItemRequest], Field(min_length=1, max_length=MAX_ITEMS)]
    hold_seconds: Annotated[int, Field(ge=1, le=86_400)]


class ConfirmHold(Contract):
    """Turn a booking's live (or in-grace) hold into sold inventory."""

    TYPE: ClassVar[str] = "inventory.confirm"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.cmd.confirm"

    booking_id: uuid.UUID


class ReleaseHold(Contract):
    """Give a booking's seats and rooms back, held or sold; safe to send before, after or without a reserve."""

    TYPE: ClassVar[str] = "inventory.release"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.cmd.release"

    booking_id: uuid.UUID
    reason: Annotated[str, Field(min_length=1, max_length=200)]


# Hold events ---------------------------------------------------------------------------------------------------


class HeldBusSeats(MessageValue):
    """Seats held on one schedule, priced at the schedule's fare."""

    type: Literal["bus_seats"] = "bus_seats"
    schedule_id: uuid.UUID
    seats: list[str]
    fare: Money
    price: Money
    starts_at: datetime
    ends_at: datetime


class NightRate(MessageValue):
    """The rate of one room for one night."""

    night: date
    rate: Money


class HeldHotelRooms(MessageValue):
    """Rooms held for a stay, priced night by night."""

    type: Literal["hotel_rooms"] = "hotel_rooms"
    room_type_id: uuid.UUID
    hotel_id: uuid.UUID
    check_in: date
    check_out: date
    rooms: int
    nights: list[NightRate]
    price: Money
    starts_at: datetime
    ends_at: datetime


HeldItem = Annotated[HeldBusSeats | HeldHotelRooms, Field(discriminator="type")]

RejectionReason = Literal["seats_unavailable", "rooms_unavailable", "not_sellable", "hold_released"]
ConfirmRejection = Literal["hold_lapsed", "hold_released", "hold_rejected", "hold_unknown"]


class HoldReserved(Contract):
    """Every item is held until ``expires_at``; items come back in the order they were asked for."""

    TYPE: ClassVar[str] = "inventory.hold_reserved"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.reserved"

    booking_id: uuid.UUID
    items: list[HeldItem]
    total: Money
    expires_at: datetime


class HoldRejected(Contract):
    """Nothing is held; ``item_index`` names the first item that could not be, when one could not."""

    TYPE: ClassVar[str] = "inventory.hold_rejected"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.rejected"

    booking_id: uuid.UUID
    reason: RejectionReason
    detail: str
    item_index: int | None = None


class HoldConfirmed(Contract):
    """The booking's seats and rooms are sold."""

    TYPE: ClassVar[str] = "inventory.hold_confirmed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.confirmed"

    booking_id: uuid.UUID


class HoldConfirmRejected(Contract):
    """The hold could not be confirmed: it lapsed past its grace, was released, or never existed."""

    TYPE: ClassVar[str] = "inventory.hold_confirm_rejected"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.confirm_rejected"

    booking_id: uuid.UUID
    reason: ConfirmRejection
    detail: str


class HoldReleased(Contract):
    """The booking's inventory is free again (``was_held`` is false for a release that found no hold)."""

    TYPE: ClassVar[str] = "inventory.hold_released"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.released"

    booking_id: uuid.UUID
    reason: str
    was_held: bool


class HoldExpired(Contract):
    """The sweeper released a hold that outlived ``expires_at`` and its grace period."""

    TYPE: ClassVar[str] = "inventory.hold_expired"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hold.expired"

    booking_id: uuid.UUID
    expired_at: datetime


# Supply events, for search's read model ------------------------------------------------------------------------

ApprovalStatus = Literal["pending", "approved", "rejected", "suspended"]


class OperatorStatusChanged(Contract):
    """An operator was created or changed approval status."""

    TYPE: ClassVar[str] = "inventory.operator_status_changed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.operator.status_changed"

    operator_id: uuid.UUID
    name: str
    approval_status: ApprovalStatus
    version: Version


class OwnerStatusChanged(Contract):
    """A property owner was created or changed approval status."""

    TYPE: ClassVar[str] = "inventory.owner_status_changed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.owner.status_changed"

    owner_id: uuid.UUID
    name: str
    approval_status: ApprovalStatus
    version: Version


class ScheduleUpserted(Contract):
    """The whole picture of one schedule.

    Two counters order it: ``version`` moves when the schedule itself changes (publication, cancellation) and
    ``seats_version`` when its free seats do, the same counter ``SeatsChanged`` carries. A read model keeps both,
    so whichever of the two events arrives late never overwrites newer facts with older ones.
    """

    TYPE: ClassVar[str] = "inventory.schedule_upserted"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.schedule.upserted"

    schedule_id: uuid.UUID
    operator_id: uuid.UUID
    bus_id: uuid.UUID
    bus_type: str
    amenities: list[str]
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    fare: Money
    status: Literal["active", "cancelled"]
    total_seats: int
    available_seats: int
    version: Version
    seats_version: Version


class SeatsChanged(Contract):
    """A schedule's count of free seats changed (seats held, released or expired); ``version`` is its seats_version."""

    TYPE: ClassVar[str] = "inventory.seats_changed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.seats.changed"

    schedule_id: uuid.UUID
    available_seats: int
    version: Version


class RoomTypeView(MessageValue):
    """A room type as search lists it."""

    room_type_id: uuid.UUID
    name: str
    capacity: int
    amenities: list[str]


class HotelUpserted(Contract):
    """The whole descriptive picture of one hotel and its room types."""

    TYPE: ClassVar[str] = "inventory.hotel_upserted"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.hotel.upserted"

    hotel_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    city: str
    address: str
    stars: int
    amenities: list[str]
    is_active: bool
    room_types: list[RoomTypeView]
    version: Version


class RoomNight(MessageValue):
    """One night of one room type; each night has its own version, so reordered events never regress it."""

    night: date
    total: int
    available: int
    rate: Money
    version: Version


class RoomNightsChanged(Contract):
    """Allotment, availability or rate changed on some nights of a room type."""

    TYPE: ClassVar[str] = "inventory.room_nights_changed"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.room_nights.changed"

    room_type_id: uuid.UUID
    hotel_id: uuid.UUID
    nights: list[RoomNight]


# Snapshots, for rebuilding a read model ------------------------------------------------------------------------


class AnnounceSnapshot(Contract):
    """Re-announce every operator, owner, schedule, hotel and room night (search sends it to rebuild)."""

    TYPE: ClassVar[str] = "inventory.announce_snapshot"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.cmd.announce_snapshot"

    request_id: uuid.UUID


class SnapshotAnnounced(Contract):
    """Every aggregate of the snapshot ``request_id`` asked for was announced before this event.

    ``counts`` says how many events of each kind the snapshot queued, keyed by the event's subject suffix
    (``schedule.upserted``, ``room_nights.changed``, ...).
    """

    TYPE: ClassVar[str] = "inventory.snapshot_announced"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.snapshot.announced"

    request_id: uuid.UUID
    counts: dict[str, int]
