"""``/v1/bookings``: customers book, pay, cancel and follow their bookings; admins see, retry and delete any."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from flask import Blueprint, Response, g
from pydantic import BaseModel, Field, StrictInt, StringConstraints, ValidationError, ValidationInfo, field_validator

from bookings.adapters.booking_records import Filters
from bookings.domain.lifecycle import InvalidTransition, Status
from bookings.service_layer import booking_requests as desk
from bookings.service_layer.booking_requests import BookingNotFound, KeyUsedByAnotherBooking, Viewer
from bookings.service_layer.saga import BookingExpired, NotPayable, NotWaiting, SagaRules
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.contracts.inventory import MAX_GUESTS_PER_ITEM, MAX_ITEMS, MAX_ROOMS_PER_ITEM, MAX_SEATS_PER_ITEM
from tripline.http.idempotency import idempotent, idempotent_resource_id
from tripline.http.openapi import documented
from tripline.http.problems import (
    FieldError,
    Problem,
    bad_request,
    conflict,
    forbidden,
    idempotency_key_reused,
    not_found,
    validation_failed,
)
from tripline.http.responses import Timestamp, answer
from tripline.http.validation import ApiModel, Money, PageQuery, decode_cursor, encode_cursor, parse_body, parse_query

TAGS = ("bookings",)
T = TypeVar("T")
MAX_STAY_NIGHTS = 30
MAX_WAIT_SECONDS = 30

UnitOfWorkFactory = desk.UnitOfWorkFactory
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
    @field_validator("seats")
    @classmethod
    def _each_seat_once(cls, seats: list[str]) -> list[str]:
        if len(set(seats)) != len(seats):
            raise ValueError("a seat is named twice")
        return seats

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


class _CursorPosition(BaseModel):
    created_at: datetime
    id: uuid.UUID


# Routes ----------------------------------------------------------------------------------------------------------


def bookings_blueprint(unit_of_work: UnitOfWorkFactory, rules: SagaRules, currency: str) -> Blueprint:
    """Every ``/v1/bookings`` route."""
    blueprint = Blueprint("bookings", __name__, url_prefix="/v1/bookings")
    _answer_refusals(blueprint)
    _add_customer_routes(blueprint, unit_of_work, rules)
    _add_reading_routes(blueprint, unit_of_work)
    _add_admin_routes(blueprint, unit_of_work, rules)
    return blueprint


def _add_customer_routes(blueprint: Blueprint, unit_of_work: UnitOfWorkFactory, rules: SagaRules) -> None:
    @blueprint.post("")
    @documented(
        "Book seats and rooms; answered at once in pending, priced by inventory",
        body=NewBooking,
        responses={202: Booking},
        tags=TAGS,
        idempotency_key=True,
    )
    @requires_role(Role.CUSTOMER)
    @idempotent
    def create() -> Response:
        request = parse_body(NewBooking)
        if (twice := request.seat_asked_twice()) is not None:
            raise validation_failed([twice])
        booking = desk.place(
            unit_of_work,
            rules,
            booking_id=idempotent_resource_id("booking"),
            customer_id=current_principal().sub,
            items=[item.model_dump(mode="json") for item in request.items],
            pay_by=request.payment.method if request.payment else None,
        )
        return _accepted(booking, location=f"/v1/bookings/{booking['id']}")

    @blueprint.post("/<uuid:booking_id>/pay")
    @documented(
        "Pay a reserved booking from the wallet",
        body=PaymentChoice,
        responses={202: Booking, 404: None, 409: None},
        tags=TAGS,
        idempotency_key=True,
    )
    @requires_role(Role.CUSTOMER)
    @idempotent
    def pay(booking_id: uuid.UUID) -> Response:
        parse_body(PaymentChoice)
        viewer, key = _viewer(), _request_key()
        return _accepted(_as_answer(lambda: desk.pay(unit_of_work, rules, viewer, booking_id, key)))

    @blueprint.post("/<uuid:booking_id>/cancel")
    @documented(
        "Cancel a booking: items released, a confirmed one refunded by policy",
        body=CancelRequest,
        responses={202: Booking, 404: None, 409: None},
        tags=TAGS,
        idempotency_key=True,
    )
    @requires_role(Role.CUSTOMER, Role.ADMIN)
    @idempotent
    def cancel(booking_id: uuid.UUID) -> Response:
        reason = parse_body(CancelRequest).reason
        viewer, key = _viewer(), _request_key()
        return _accepted(_as_answer(lambda: desk.cancel(unit_of_work, rules, viewer, booking_id, reason, key)))


def _add_reading_routes(blueprint: Blueprint, unit_of_work: UnitOfWorkFactory) -> None:
    @blueprint.get("/<uuid:booking_id>")
    @documented(
        "A booking; with ?wait=N, answered once it is not transitional or after N seconds",
        query=WaitQuery,
        responses={200: Booking, 404: None},
        tags=TAGS,
    )
    @requires_role(Role.CUSTOMER, Role.ADMIN)
    def show(booking_id: uuid.UUID) -> Response:
        seconds = parse_query(WaitQuery).wait
        return answer(_booking(desk.wait_until_settled(unit_of_work, _viewer(), booking_id, seconds)))

    @blueprint.get("/<uuid:booking_id>/history")
    @documented("Every status change of a booking", responses={200: History, 404: None}, tags=TAGS)
    @requires_role(Role.CUSTOMER, Role.ADMIN)
    def history(booking_id: uuid.UUID) -> Response:
        rows = desk.history(unit_of_work, _viewer(), booking_id)
        return answer(History(items=[_transition(row) for row in rows]))

    @blueprint.get("")
    @documented(
        "A customer's own bookings, or every booking for an admin, newest first",
        query=BookingQuery,
        responses={200: BookingPage},
        tags=TAGS,
    )
    @requires_role(Role.CUSTOMER, Role.ADMIN)
    def list_bookings() -> Response:
        query = parse_query(BookingQuery)
        filters = _filters(query, _viewer())
        before = _position(query.cursor) if query.cursor is not None else None
        page = desk.page(unit_of_work, filters, before, query.limit)
        last = page.items[-1] if page.has_more else None
        next_cursor = (
            encode_cursor({"created_at": last["created_at"].isoformat(), "id": str(last["id"])}) if last else None
        )
        return answer(BookingPage(items=[_booking(row) for row in page.items], next_cursor=next_cursor))


def _add_admin_routes(blueprint: Blueprint, unit_of_work: UnitOfWorkFactory, rules: SagaRules) -> None:
    @blueprint.delete("/<uuid:booking_id>")
    @documented(
        "Soft-delete a completed, cancelled, expired or failed booking (admin)",
        responses={204: None, 404: None, 409: None},
        tags=TAGS,
    )
    @requires_role(Role.ADMIN)
    def delete(booking_id: uuid.UUID) -> Response:
        desk.delete(unit_of_work, rules, _viewer(), booking_id)
        return Response(status=204)

    @blueprint.post("/<uuid:booking_id>/retry")
    @documented(
        "Send again the step a waiting booking needs (admin)",
        responses={202: Booking, 404: None, 409: None},
        tags=TAGS,
    )
    @requires_role(Role.ADMIN)
    def retry(booking_id: uuid.UUID) -> Response:
        return _accepted(desk.retry(unit_of_work, rules, _viewer(), booking_id))

    @blueprint.post("/<uuid:booking_id>/abandon")
    @documented(
        "Extension to the v1 contract: fail a booking stuck in payment_pending or confirming, release its items and"
        " refund its money (admin)",
        responses={202: Booking, 404: None, 409: None},
        tags=TAGS,
    )
    @requires_role(Role.ADMIN)
    def abandon(booking_id: uuid.UUID) -> Response:
        return _accepted(desk.abandon(unit_of_work, rules, _viewer(), booking_id))


# Reading and writing the contract's shapes -----------------------------------------------------------------------


def _viewer() -> Viewer:
    principal = current_principal()
    return Viewer(sub=principal.sub, is_admin=principal.role is Role.ADMIN)


def _filters(query: BookingQuery, viewer: Viewer) -> Filters:
    if viewer.is_admin:
        return Filters(query.customer_id, query.status, query.include_deleted, query.stuck)
    if query.customer_id is not None or query.include_deleted or query.stuck:
        raise forbidden("Only admins may filter by customer_id, include_deleted or stuck.")
    return Filters(viewer.sub, query.status)


def _position(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        position = _CursorPosition.model_validate(decode_cursor(cursor))
    except ValidationError:
        raise bad_request(
            "invalid_cursor", "The cursor is not one this API issued.", [FieldError("cursor", "Invalid cursor")]
        ) from None
    return position.created_at, position.id


def _accepted(booking: Any, location: str | None = None) -> Response:
    response = answer(_booking(booking))
    response.status_code = 202
    if location is not None:
        response.headers["Location"] = location
    return response


def _booking(row: Any) -> Booking:
    currency = row["currency"]
    return Booking.model_validate(
        {
            **{name: row[name] for name in _BOOKING_COLUMNS},
            "total": _money(row["total_minor"], currency),
            "payment": {"method": row["payment_method"]} if row["payment_method"] else None,
            "failure": {"code": row["failure_code"], "message": row["failure_message"] or ""}
            if row["failure_code"]
            else None,
            "refund": _money(row["refund_minor"], currency),
        },
        strict=False,
    )


_BOOKING_COLUMNS = (
    "id",
    "customer_id",
    "status",
    "items",
    "created_at",
    "reserved_at",
    "expires_at",
    "payment_requested_at",
    "confirmed_at",
    "completed_at",
    "cancelled_at",
    "expired_at",
    "failed_at",
    "deleted_at",
)


def _money(amount_minor: int | None, currency: str | None) -> dict[str, Any] | None:
    if amount_minor is None or currency is None:
        return None
    return {"amount_minor": amount_minor, "currency": currency}


def _transition(row: Any) -> Transition:
    return Transition.model_validate(
        {"from_status": row["from_status"], "to": row["to_status"], "at": row["at"], "reason": row["reason"]},
        strict=False,
    )


# Refusals --------------------------------------------------------------------------------------------------------


REFUSALS: dict[type[Exception], Callable[[Any], Problem]] = {
    BookingNotFound: lambda _: not_found("booking"),
    InvalidTransition: lambda error: conflict(
        "invalid_state", f"The booking is {error.current.value}; it cannot take {error.event.value} now."
    ),
    BookingExpired: lambda _: conflict("booking_expired", "The booking's expires_at has passed; it cannot be paid."),
    NotPayable: lambda _: conflict(
        "invalid_state", "The booking has no price yet, or one larger than a single payment may be."
    ),
    NotWaiting: lambda _: conflict("invalid_state", "The booking waits for no other service; nothing to retry."),
    KeyUsedByAnotherBooking: lambda _: idempotency_key_reused(),
}


def _answer_refusals(blueprint: Blueprint) -> None:
    for refusal, problem in REFUSALS.items():
        blueprint.register_error_handler(refusal, _responder(problem))


def _responder(problem: Callable[[Any], Problem]) -> Callable[[Exception], Response]:
    def respond(error: Exception) -> Response:
        return problem(error).to_response()

    return respond


def _as_answer(action: Callable[[], T]) -> T:
    """Run a use case in an ``@idempotent`` view: a refusal becomes a problem the replay cache keeps."""
    try:
        return action()
    except tuple(REFUSALS) as error:
        problem = next(answer for refusal, answer in REFUSALS.items() if isinstance(error, refusal))
        raise problem(error) from None


def _request_key() -> str:
    """The caller and its ``Idempotency-Key``: what a booking remembers of the request that changed it."""
    return f"{current_principal().sub}:{g.idempotency_key}"
