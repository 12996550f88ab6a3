"""Bus search in SQL: one route on one day, approved operators and active future departures only.

The statement of each shape of search (its sort, its filters, whether it continues a page) is built once.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Uuid,
    bindparam,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from search.adapters.prepared import Query, given, rows_of, shaped
from search.adapters.tables import ACTIVE, APPROVED, operators, trip_seats, trips
from search.domain.criteria import BusSort, TripCriteria, TripPosition, place_key


def find_trips(session: Session, criteria: TripCriteria, after: TripPosition | None, limit: int) -> list[RowMapping]:
    """Up to ``limit`` trips matching ``criteria`` in its sort order, starting after ``after``."""
    return rows_of(session, trips_query(criteria, after, limit))


def trips_query(criteria: TripCriteria, after: TripPosition | None, limit: int) -> Query:
    """The statement ``find_trips`` runs, and its parameters."""
    day_starts = datetime.combine(criteria.day, time(0), tzinfo=UTC)
    values = {
        "origin_key": place_key(criteria.origin),
        "destination_key": place_key(criteria.destination),
        "day_starts": day_starts,
        "day_ends": day_starts + timedelta(days=1),
        "seats": criteria.seats,
        "limit": limit,
    }
    filters = given(max_fare_minor=criteria.max_fare_minor, bus_type=criteria.bus_type)
    position = (
        {}
        if after is None
        else {"after_rank": after.rank, "after_departs_at": after.departs_at, "after_id": after.schedule_id}
    )
    return shaped(_statement, criteria.sort, values, filters=filters, position=position)


@cache
def _statement(sort: BusSort, *, continues: bool, filters: frozenset[str]) -> Select[Any]:
    rank = _rank(sort)
    query = _matching(filters).add_columns(rank.label("rank"))
    if continues:
        query = query.where(
            tuple_(rank, trips.c.departs_at, trips.c.schedule_id)
            > tuple_(
                bindparam("after_rank", type_=BigInteger),
                bindparam("after_departs_at", type_=DateTime(timezone=True)),
                bindparam("after_id", type_=Uuid),
            )
        )
    return query.order_by(rank, trips.c.departs_at, trips.c.schedule_id).limit(bindparam("limit", type_=Integer))


def _matching(filters: frozenset[str]) -> Select[Any]:
    query = (
        select(
            trips,
            trip_seats.c.available_seats,
            operators.c.name.label("operator_name"),
        )
        .join(trip_seats, trip_seats.c.schedule_id == trips.c.schedule_id)
        .join(operators, operators.c.id == trips.c.operator_id)
        .where(
            trips.c.origin_key == bindparam("origin_key"),
            trips.c.destination_key == bindparam("destination_key"),
            trips.c.status == ACTIVE,
            trips.c.departs_at >= bindparam("day_starts"),
            trips.c.departs_at < bindparam("day_ends"),
            trips.c.departs_at > func.now(),
            trip_seats.c.available_seats >= bindparam("seats"),
            operators.c.approval_status == APPROVED,
        )
    )
    if "max_fare_minor" in filters:
        query = query.where(trips.c.fare_minor <= bindparam("max_fare_minor"))
    if "bus_type" in filters:
        query = query.where(trips.c.bus_type == bindparam("bus_type"))
    return query


def _rank(sort: BusSort) -> ColumnElement[int]:
    """The first sort key, returned as ``rank`` so that a page's cursor carries it."""
    if sort == "price":
        return trips.c.fare_minor
    if sort == "duration":
        return trips.c.duration_minutes
    return literal(0)
