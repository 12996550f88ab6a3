"""Hotel search in SQL: room types free every night of the stay, in active hotels of approved owners.

One statement: ``fitting`` keeps each room type whose nights all have the rooms (and prices its stay), ``page``
picks the page's hotels in sort order by their cheapest stay, and only for those are the room types gathered into
the answer (a city has many more hotels than a page). As for buses, the statement of each shape of search is built
once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Select,
    Text,
    Uuid,
    bindparam,
    cast,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from search.adapters.prepared import Query, given, rows_of, shaped
from search.adapters.tables import APPROVED, hotels, property_owners, room_nights, room_types
from search.domain.criteria import HotelPosition, HotelSort, StayCriteria, place_key


def find_hotels(session: Session, criteria: StayCriteria, after: HotelPosition | None, limit: int) -> list[RowMapping]:
    """Up to ``limit`` hotels with at least one fitting room type, in the criteria's sort order after ``after``."""
    return rows_of(session, hotels_query(criteria, after, limit))


def hotels_query(criteria: StayCriteria, after: HotelPosition | None, limit: int) -> Query:
    """The statement ``find_hotels`` runs, and its parameters."""
    values = {
        "city_key": place_key(criteria.city),
        "rooms": criteria.rooms,
        "guests": criteria.guests,
        "check_in": criteria.check_in,
        "check_out": criteria.check_out,
        "nights": criteria.nights,
        "limit": limit,
    }
    filters = given(
        min_stars=criteria.min_stars,
        amenities=list(criteria.amenities) or None,
        max_price_minor=criteria.max_price_minor,
    )
    position = (
        {}
        if after is None
        else {"after_rank": after.rank, "after_price": after.min_price_minor, "after_id": after.hotel_id}
    )
    return shaped(_statement, criteria.sort, values, filters=filters, position=position)


@cache
def _statement(sort: HotelSort, *, continues: bool, filters: frozenset[str]) -> Select[Any]:
    fitting = _fitting(filters)
    page = _page(fitting, sort, continues=continues)
    room_type = func.json_build_object(
        "room_type_id",
        fitting.c.id,
        "name",
        fitting.c.name,
        "capacity",
        fitting.c.capacity,
        "available_rooms",
        fitting.c.available_rooms,
        "total_minor",
        fitting.c.total_minor,
        "currency",
        fitting.c.currency,
    )
    return (
        select(
            hotels,
            page.c.min_price_minor,
            func.min(fitting.c.currency).label("currency"),
            func.json_agg(aggregate_order_by(room_type, fitting.c.total_minor, fitting.c.name, fitting.c.id)).label(
                "room_types"
            ),
            page.c.rank,
        )
        .join(page, page.c.hotel_id == hotels.c.id)
        .join(fitting, fitting.c.hotel_id == hotels.c.id)
        .group_by(hotels.c.id, page.c.min_price_minor, page.c.rank)
        .order_by(page.c.rank, page.c.min_price_minor, hotels.c.id)
    )


def _page(fitting: CTE, sort: HotelSort, *, continues: bool) -> CTE:
    """The page's hotels, in sort order after the cursor's: each with its cheapest fitting stay and its rank."""
    cheapest = func.min(fitting.c.total_minor)
    rank: ColumnElement[int] = -hotels.c.stars if sort == "stars" else literal(0)
    query = (
        select(hotels.c.id.label("hotel_id"), cheapest.label("min_price_minor"), rank.label("rank"))
        .join(fitting, fitting.c.hotel_id == hotels.c.id)
        .group_by(hotels.c.id)
        .order_by(rank, cheapest, hotels.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if continues:
        query = query.having(
            tuple_(rank, cheapest, hotels.c.id)
            > tuple_(
                bindparam("after_rank", type_=BigInteger),
                bindparam("after_price", type_=BigInteger),
                bindparam("after_id", type_=Uuid),
            )
        )
    return query.cte("page")


def _fitting(filters: frozenset[str]) -> CTE:
    """Each room type with ``rooms`` free on every night of the stay, with the stay's price per room."""
    today = cast(func.timezone("UTC", func.now()), Date)
    rooms = bindparam("rooms", type_=Integer)
    query: Select[Any] = (
        select(
            room_types.c.hotel_id,
            room_types.c.id,
            room_types.c.name,
            room_types.c.capacity,
            func.min(room_nights.c.available).label("available_rooms"),
            # sum() of bigint is numeric in PostgreSQL: back to bigint, which holds any stay's price.
            cast(func.sum(room_nights.c.rate_minor), BigInteger).label("total_minor"),
            func.min(room_nights.c.currency).label("currency"),
        )
        .join(room_nights, room_nights.c.room_type_id == room_types.c.id)
        .join(hotels, hotels.c.id == room_types.c.hotel_id)
        .join(property_owners, property_owners.c.id == hotels.c.owner_id)
        .where(
            hotels.c.city_key == bindparam("city_key"),
            hotels.c.is_active,
            property_owners.c.approval_status == APPROVED,
            room_types.c.capacity * rooms >= bindparam("guests", type_=Integer),
            room_nights.c.night >= bindparam("check_in"),
            room_nights.c.night < bindparam("check_out"),
            room_nights.c.night >= today,  # a stay that began in the past is not for sale
            room_nights.c.available >= rooms,
        )
        .group_by(room_types.c.id)
        # Every night of the stay must be there: a night inventory never announced has no rooms to sell.
        .having(func.count() == bindparam("nights", type_=BigInteger))
    )
    if "min_stars" in filters:
        query = query.where(hotels.c.stars >= bindparam("min_stars"))
    if "amenities" in filters:
        query = query.where(hotels.c.amenities.contains(bindparam("amenities", type_=ARRAY(Text))))
    if "max_price_minor" in filters:
        query = query.having(func.sum(room_nights.c.rate_minor) <= bindparam("max_price_minor", type_=BigInteger))
    return query.cte("fitting")
