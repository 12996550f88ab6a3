"""``/v1/bookings``: customers book, pay, cancel and follow their bookings; admins see, retry and delete any."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, g
from pydantic import BaseModel

from bookings.adapters.booking_records import Filters
from bookings.domain.lifecycle import InvalidTransition
from bookings.entrypoints.booking_schemas import (
    Booking,
    BookingPage,
    BookingQuery,
    CancelRequest,
    CursorPosition,
    History,
    NewBooking,
    PaymentChoice,
    Transition,
    WaitQuery,
)
from bookings.service_layer import booking_requests as desk
from bookings.service_layer.booking_requests import BookingNotFound, KeyUsedByAnotherBooking, MovesWatch, Viewer
from bookings.service_layer.saga import BookingExpired, NotPayable, NotWaiting, SagaRules, refund_of, total_of
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.http.idempotency import idempotent, idempotent_resource_id
from tripline.http.openapi import documented
from tripline.http.problems import (
    Refusals,
    answer_refusals,
    conflict,
    forbidden,
    idempotency_key_reused,
    not_found,
    validation_failed,
)
from tripline.http.responses import answer
from tripline.http.validation import decode_cursor_as, encode_cursor, parse_body, parse_query

TAGS = ("bookings",)
T = TypeVar("T")
UnitOfWorkFactory = desk.UnitOfWorkFactory
ReadSessions = desk.ReadSessions


# Routes ----------------------------------------------------------------------------------------------------------


def bookings_blueprint(
    unit_of_work: UnitOfWorkFactory, reads: ReadSessions, rules: SagaRules, currency: str, watch: MovesWatch
) -> Blueprint:
    """Every ``/v1/bookings`` route."""
    blueprint = Blueprint("bookings", __name__, url_prefix="/v1/bookings")
    answer_refusals(blueprint, REFUSALS)
    _add_customer_routes(blueprint, unit_of_work, rules)
    _add_reading_routes(blueprint, reads, watch)
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


def _add_reading_routes(blueprint: Blueprint, reads: ReadSessions, watch: MovesWatch) -> None:
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
        return answer(_booking(desk.wait_until_settled(reads, watch, _viewer(), booking_id, seconds)))

    @blueprint.get("/<uuid:booking_id>/history")
    @documented("Every status change of a booking", responses={200: History, 404: None}, tags=TAGS)
    @requires_role(Role.CUSTOMER, Role.ADMIN)
    def history(booking_id: uuid.UUID) -> Response:
        rows = desk.history(reads, _viewer(), booking_id)
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
        page = desk.page(reads, filters, before, query.limit)
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
    position = decode_cursor_as(CursorPosition, cursor)
    return position.created_at, position.id


def _accepted(booking: Any, location: str | None = None) -> Response:
    response = answer(_booking(booking))
    response.status_code = 202
    if location is not None:
        response.headers["Location"] = location
    return response


def _booking(row: Any) -> Booking:
    return Booking.model_validate(
        {
            **{name: row[name] for name in _BOOKING_COLUMNS},
            "total": _dumped(total_of(row)),
            "payment": {"method": row["payment_method"]} if row["payment_method"] else None,
            "failure": {"code": row["failure_code"], "message": row["failure_message"] or ""}
            if row["failure_code"]
            else None,
            "refund": _dumped(refund_of(row)),
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


def _dumped(money: BaseModel | None) -> dict[str, Any] | None:
    return None if money is None else money.model_dump()


def _transition(row: Any) -> Transition:
    return Transition.model_validate(
        {"from_status": row["from_status"], "to": row["to_status"], "at": row["at"], "reason": row["reason"]},
        strict=False,
    )


# Refusals --------------------------------------------------------------------------------------------------------


REFUSALS: Refusals = {
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
