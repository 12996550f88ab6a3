"""Bus search in SQL: one route on one day, approved operators and active future departures only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from search.adapters.tables import ACTIVE, APPROVED, operators, trip_seats, trips
from search.domain.criteria import BusSort, TripCriteria, TripPosition, place_key


def find_trips(session: Session, criteria: TripCriteria, after: TripPosition | None, limit: int) -> list[RowMapping]:
    """Up to ``limit`` trips matching ``criteria`` in its sort order, starting after ``after``."""
    return list(session.execute(trips_statement(criteria, after, limit)).mappings())


def trips_statement(criteria: TripCriteria, after: TripPosition | None, limit: int) -> Select[Any]:
    """The query ``find_trips`` runs."""
    rank = _rank(criteria.sort)
    query = _matching(criteria).add_columns(rank.label("rank"))
    if after is not None:
        query = query.where(
            tuple_(rank, trips.c.departs_at, trips.c.schedule_id)
            > tuple_(literal(after.rank), literal(after.departs_at), literal(after.schedule_id))
        )
    return query.order_by(rank, trips.c.departs_at, trips.c.schedule_id).limit(limit)


def _matching(criteria: TripCriteria) -> Select[Any]:
    day_starts = datetime.combine(criteria.day, time(0), tzinfo=UTC)
    query = (
        select(
            trips,
            trip_seats.c.available_seats,
            operators.c.name.label("operator_name"),
        )
        .join(trip_seats, trip_seats.c.schedule_id == trips.c.schedule_id)
        .join(operators, operators.c.id == trips.c.operator_id)
        .where(
            trips.c.origin_key == place_key(criteria.origin),
            trips.c.destination_key == place_key(criteria.destination),
            trips.c.status == ACTIVE,
            trips.c.departs_at >= day_starts,
            trips.c.departs_at < day_starts + timedelta(days=1),
            trips.c.departs_at > func.now(),
            trip_seats.c.available_seats >= criteria.seats,
            operators.c.approval_status == APPROVED,
        )
    )
    if criteria.max_fare_minor is not None:
        query = query.where(trips.c.fare_minor <= criteria.max_fare_minor)
    if criteria.bus_type is not None:
        query = query.where(trips.c.bus_type == criteria.bus_type)
    return query


def _rank(sort: BusSort) -> ColumnElement[int]:
    """The first sort key, returned as ``rank`` so that a page's cursor carries it."""
    if sort == "price":
        return trips.c.fare_minor
    if sort == "duration":
        return trips.c.duration_minutes
    return literal(0)
