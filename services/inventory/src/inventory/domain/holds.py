"""What a hold is allowed to do: rules that need no database."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from inventory.domain.approvals import is_sellable
from inventory.domain.fleet import ScheduleStatus
from inventory.domain.stays import NightRange
from tripline.contracts.inventory import MAX_STAY_NIGHTS

# Hotels publish no local times here, so a stay is taken to run from 14:00 UTC on the check-in date to 11:00 UTC
# on the check-out date: the customary hotel hours, used for refund windows and completion downstream.
CHECK_IN_TIME = time(14, tzinfo=UTC)
CHECK_OUT_TIME = time(11, tzinfo=UTC)


class HoldStatus(enum.StrEnum):
    """Where a booking's hold stands. Only ``held`` and ``confirmed`` own inventory."""

    HELD = "held"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RELEASED = "released"
    EXPIRED = "expired"

    @property
    def owns_inventory(self) -> bool:
        """Seats and rooms are still taken by this hold."""
        return self in (HoldStatus.HELD, HoldStatus.CONFIRMED)


class Rejection(Exception):
    """A reserve that cannot be honoured; nothing it asked for is held."""

    def __init__(self, reason: str, detail: str, item_index: int | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.item_index = item_index


def not_sellable(detail: str, item_index: int) -> Rejection:
    """The item exists but may not be sold (approval, cancellation, departure, inactive hotel)."""
    return Rejection("not_sellable", detail, item_index)


@dataclass(frozen=True)
class Schedule:
    """What reserving seats needs to know about a schedule."""

    status: str
    operator_status: str
    departs_at: datetime


def ensure_schedule_sellable(schedule: Schedule | None, item_index: int, now: datetime) -> None:
    """Raise ``not_sellable`` unless the schedule can be sold right now."""
    if schedule is None:
        raise not_sellable("The schedule does not exist.", item_index)
    if not is_sellable(schedule.operator_status):
        raise not_sellable(f"The operator is {schedule.operator_status}, not approved.", item_index)
    if schedule.status != ScheduleStatus.ACTIVE:
        raise not_sellable("The schedule is cancelled.", item_index)
    if schedule.departs_at <= now:
        raise not_sellable("The bus has already departed.", item_index)


@dataclass(frozen=True)
class RoomType:
    """What reserving rooms needs to know about a room type."""

    hotel_id: object
    hotel_active: bool
    owner_status: str
    capacity: int


def ensure_stay_sellable(
    room_type: RoomType | None, check_in: date, check_out: date, item_index: int, today: date
) -> None:
    """Raise ``not_sellable`` unless the room type can be sold for this stay."""
    if room_type is None:
        raise not_sellable("The room type does not exist.", item_index)
    if not is_sellable(room_type.owner_status):
        raise not_sellable(f"The property owner is {room_type.owner_status}, not approved.", item_index)
    if not room_type.hotel_active:
        raise not_sellable("The hotel is inactive.", item_index)
    if not check_in < check_out <= check_in + timedelta(days=MAX_STAY_NIGHTS):
        raise not_sellable(f"A stay runs 1 to {MAX_STAY_NIGHTS} nights, check-out after check-in.", item_index)
    if check_in < today:
        raise not_sellable("The check-in date has passed.", item_index)


def ensure_guests_fit(room_type: RoomType, rooms: int, guests: int | None, item_index: int) -> None:
    """Raise ``rooms_unavailable`` when ``rooms`` rooms of this type sleep fewer than ``guests``."""
    if guests is not None and guests > rooms * room_type.capacity:
        raise Rejection(
            "rooms_unavailable",
            f"{rooms} room(s) of this type sleep at most {rooms * room_type.capacity} guests, not {guests}.",
            item_index,
        )


def nights_of(check_in: date, check_out: date) -> list[date]:
    """Every night of a stay, in order: ``[check_in, check_out)``."""
    return NightRange(check_in, check_out).nights()


def stay_starts_at(check_in: date) -> datetime:
    """When a stay begins, for refund windows."""
    return datetime.combine(check_in, CHECK_IN_TIME)


def stay_ends_at(check_out: date) -> datetime:
    """When a stay ends, for completion."""
    return datetime.combine(check_out, CHECK_OUT_TIME)


def seats_price(fare_minor: int, seat_count: int) -> int:
    """Every seat costs the schedule's fare."""
    return fare_minor * seat_count


def stay_price(nightly_rates_minor: Iterable[int], rooms: int) -> int:
    """Each room pays each night's rate."""
    return sum(nightly_rates_minor) * rooms


def is_confirmable(expires_at: datetime, grace: timedelta, now: datetime) -> bool:
    """A hold can be confirmed while live, and for ``grace`` after it lapses (a payment started in time)."""
    return now <= expires_at + grace
