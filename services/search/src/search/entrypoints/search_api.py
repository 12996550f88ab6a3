"""``/v1/search``: trips and hotels from the read model, for anyone (no token needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from search.adapters.bus_search import find_trips
from search.adapters.hotel_search import find_hotels
from search.domain.criteria import HotelPosition, TripPosition
from search.entrypoints.search_schemas import (
    BusQuery,
    HotelCursor,
    HotelOffer,
    HotelPage,
    HotelQuery,
    OperatorRef,
    RoomOffer,
    Trip,
    TripCursor,
    TripPage,
)
from tripline.http.field_errors import FieldError
from tripline.http.openapi import documented
from tripline.http.problems import bad_request
from tripline.http.responses import answer
from tripline.http.validation import Money, decode_cursor_as, encode_cursor, parse_query

TAGS = ("search",)
SessionFactory = Callable[[], Session]


def search_blueprint(session_factory: SessionFactory) -> Blueprint:
    """Every ``/v1/search`` route."""
    blueprint = Blueprint("search", __name__, url_prefix="/v1/search")

    @blueprint.get("/buses")
    @documented(
        "Departures on a route and day with enough free seats, from approved operators",
        query=BusQuery,
        responses={200: TripPage},
        auth=False,
        tags=TAGS,
    )
    def search_buses() -> Response:
        query = parse_query(BusQuery)
        after = _trip_position(query.cursor, query.sort) if query.cursor else None
        with session_factory() as session:
            rows = find_trips(session, query.criteria(), after, query.limit + 1)
        page, next_cursor = _paged(rows, query.limit, lambda last: _trip_cursor(last, query.sort))
        return answer(TripPage(items=[_trip(row) for row in page], next_cursor=next_cursor))

    @blueprint.get("/hotels")
    @documented(
        "Hotels in a city with rooms free every night of a stay, from approved owners",
        query=HotelQuery,
        responses={200: HotelPage},
        auth=False,
        tags=TAGS,
    )
    def search_hotels() -> Response:
        query = parse_query(HotelQuery)
        after = _hotel_position(query.cursor, query.sort) if query.cursor else None
        with session_factory() as session:
            rows = find_hotels(session, query.criteria(), after, query.limit + 1)
        page, next_cursor = _paged(rows, query.limit, lambda last: _hotel_cursor(last, query.sort))
        return answer(HotelPage(items=[_hotel(row) for row in page], next_cursor=next_cursor))

    return blueprint


# Cursors -------------------------------------------------------------------------------------------------------


def _paged(rows: list[RowMapping], limit: int, cursor_after: Callable[[RowMapping], str]) -> tuple[Any, str | None]:
    """The first ``limit`` of ``rows`` (read one beyond), and the cursor after the last of them when more follow."""
    page = rows[:limit]
    return page, cursor_after(page[-1]) if len(rows) > limit else None


def _trip_position(cursor: str, sort: str) -> TripPosition:
    position = decode_cursor_as(TripCursor, cursor)
    _same_sort(position.sort, sort)
    return TripPosition(position.rank, position.departs_at, position.schedule_id)


def _trip_cursor(row: RowMapping, sort: str) -> str:
    position = {"departs_at": row["departs_at"].isoformat(), "schedule_id": str(row["schedule_id"])}
    return encode_cursor({"sort": sort, "rank": row["rank"], **position})


def _hotel_position(cursor: str, sort: str) -> HotelPosition:
    position = decode_cursor_as(HotelCursor, cursor)
    _same_sort(position.sort, sort)
    return HotelPosition(position.rank, position.min_price_minor, position.hotel_id)


def _hotel_cursor(row: RowMapping, sort: str) -> str:
    position = {"min_price_minor": row["min_price_minor"], "hotel_id": str(row["id"])}
    return encode_cursor({"sort": sort, "rank": row["rank"], **position})


def _same_sort(cursor_sort: str, sort: str) -> None:
    # A cursor marks a place in one order; in another order it would skip or repeat results.
    if cursor_sort != sort:
        raise bad_request(
            "invalid_cursor",
            f"The cursor belongs to results sorted by {cursor_sort}, not {sort}.",
            [FieldError("cursor", f"Cursor is for sort={cursor_sort}")],
        )


# Rows as the contract's shapes ---------------------------------------------------------------------------------


def _trip(row: RowMapping) -> Trip:
    return Trip(
        schedule_id=row["schedule_id"],
        operator=OperatorRef(id=row["operator_id"], name=row["operator_name"]),
        origin=row["origin"],
        destination=row["destination"],
        departs_at=row["departs_at"],
        arrives_at=row["arrives_at"],
        duration_minutes=row["duration_minutes"],
        fare=Money(amount_minor=row["fare_minor"], currency=row["currency"]),
        available_seats=row["available_seats"],
        bus_type=row["bus_type"],
        amenities=row["amenities"],
    )


def _hotel(row: RowMapping) -> HotelOffer:
    return HotelOffer(
        hotel_id=row["id"],
        name=row["name"],
        city=row["city"],
        stars=row["stars"],
        amenities=row["amenities"],
        min_price=Money(amount_minor=row["min_price_minor"], currency=row["currency"]),
        room_types=[_room_offer(room) for room in row["room_types"]],
    )


def _room_offer(room: dict[str, Any]) -> RoomOffer:
    return RoomOffer.model_validate(
        {
            "room_type_id": room["room_type_id"],
            "name": room["name"],
            "capacity": room["capacity"],
            "available_rooms": room["available_rooms"],
            "total_price": {"amount_minor": room["total_minor"], "currency": room["currency"]},
        },
        strict=False,  # the room types come back as JSON, their ids as strings
    )
