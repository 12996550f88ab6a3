"""At catalogue scale the searches read through their indexes, never a whole table.

100,000 schedules on 90 routes over 90 days (about 12 a route a day), and 2,000 hotels in 40 cities with two
room types and 60 nights each,
generated in SQL. The plans of the large tables are what is asserted (a
few hundred suppliers are rightly read whole into a hash); the figures are printed for the reader, and belong to ``make
bench``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select
from sqlalchemy.orm import Session

from search.adapters.bus_search import find_trips, trips_query
from search.adapters.hotel_search import find_hotels, hotels_query
from search.domain.criteria import StayCriteria, TripCriteria, TripPosition

from ..supply import ReadModel, soon

CITIES = 10
DAYS = 90
SCHEDULES = 100_000


@pytest.fixture(scope="module")
def catalogue(migrated_database_url: str) -> Iterator[ReadModel]:
    model = ReadModel(migrated_database_url)
    model.sql("TRUNCATE operators, property_owners, trips, trip_seats, hotels, room_types, room_nights")
    _generate(model)
    yield model
    model.sql("TRUNCATE operators, property_owners, trips, trip_seats, hotels, room_types, room_nights")
    model.close()


def _generate(model: ReadModel) -> None:
    model.sql(
        "INSERT INTO operators SELECT gen_random_uuid(), 'Operator ' || n, "
        " (ARRAY['approved', 'approved', 'approved', 'pending'])[1 + n % 4], 1 FROM generate_series(1, 200) n"
    )
    model.sql(
        f"""
        WITH generated AS (
            SELECT n, gen_random_uuid() AS schedule_id, n % {CITIES} AS origin,
                   (n % {CITIES} + 1 + (n / {CITIES}) % ({CITIES} - 1)) % {CITIES} AS destination,
                   date_trunc('day', now()) + interval '1 day' * ((hashint4(n) & 65535) % {DAYS})
                       + interval '1 minute' * (n % 1440)
                       AS departs_at
            FROM generate_series(1, {SCHEDULES}) n
        ), inserted AS (
            INSERT INTO trips
            SELECT schedule_id, (SELECT id FROM operators ORDER BY id OFFSET n % 200 LIMIT 1), 'sleeper', '{{ac}}',
                   'City ' || origin, 'City ' || destination, 'city ' || origin, 'city ' || destination,
                   departs_at, departs_at + interval '9 hours', 540, 50000 + n % 5000, 'INR', 'active', 40, 1
            FROM generated
            RETURNING schedule_id
        )
        INSERT INTO trip_seats SELECT schedule_id, 20, 1 FROM inserted
        """
    )
    model.sql(
        "INSERT INTO property_owners SELECT gen_random_uuid(), 'Owner ' || n, 'approved', 1"
        " FROM generate_series(1, 100) n"
    )
    model.sql(
        """
        INSERT INTO hotels
        SELECT gen_random_uuid(), (SELECT id FROM property_owners ORDER BY id OFFSET n % 100 LIMIT 1),
               'Hotel ' || n, 'City ' || n % 40, 'city ' || n % 40, 'Street ' || n, 1 + n % 5, '{wifi,pool}', true, 1
        FROM generate_series(1, 2000) n
        """
    )
    model.sql(
        "INSERT INTO room_types SELECT gen_random_uuid(), id, kind, 2, '{}' FROM hotels, "
        "unnest(ARRAY['Deluxe', 'Suite']) kind"
    )
    model.sql(
        """
        INSERT INTO room_nights
        SELECT room_types.id, current_date + night, hotel_id, 5, 1 + night % 5, 400000 + night * 1000, 'INR', 1
        FROM room_types, generate_series(0, 59) night
        """
    )
    model.sql("ANALYZE")


def _plan(catalogue: ReadModel, query: tuple[Select[Any], dict[str, Any]], label: str) -> dict[str, Any]:
    statement, parameters = query
    with Session(catalogue.engine) as session:
        compiled = statement.compile(dialect=catalogue.engine.dialect)
        rows = (
            session.connection()
            .exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.construct_params(parameters))
            .scalar_one()
        )
    plan = rows[0] if isinstance(rows, list) else json.loads(rows)[0]
    print(f"\n{label}: executed in {plan['Execution Time']:.2f} ms")
    return dict(plan)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _indexes(plan: dict[str, Any]) -> set[str]:
    return {node["Index Name"] for node in _nodes(plan["Plan"]) if "Index Name" in node}


def _scans(plan: dict[str, Any]) -> dict[str, set[str]]:
    scans: dict[str, set[str]] = {}
    for node in _nodes(plan["Plan"]):
        if "Relation Name" in node:
            scans.setdefault(node["Relation Name"], set()).add(
                f"{node['Node Type']} {node.get('Index Name', '')}".strip()
            )
    return scans


@pytest.mark.parametrize("sort", ["departure", "price", "duration"])
def test_bus_search_reads_one_route_and_day_through_the_route_index(catalogue: ReadModel, sort: Any) -> None:
    criteria = TripCriteria("City 7", "City 8", soon(30).date(), seats=2, sort=sort)
    with Session(catalogue.engine) as session:
        assert len(find_trips(session, criteria, None, 100)) > 5  # a real route-day, not an empty one

    plan = _plan(catalogue, trips_query(criteria, None, 21), f"buses by {sort}")

    assert "ix_trips_route" in _indexes(plan)
    scans = _scans(plan)
    assert "Seq Scan" not in scans["trips"] | scans["trip_seats"], scans


def test_a_later_page_of_buses_still_reads_through_the_route_index(catalogue: ReadModel) -> None:
    criteria = TripCriteria("City 7", "City 8", soon(30).date(), sort="price")
    after = TripPosition(rank=50_100, departs_at=soon(30), schedule_id=uuid.uuid4())

    plan = _plan(catalogue, trips_query(criteria, after, 21), "a later page of buses")

    assert "ix_trips_route" in _indexes(plan)
    assert "Seq Scan" not in _scans(plan)["trips"]


@pytest.mark.parametrize("sort", ["price", "stars"])
def test_hotel_search_reads_one_city_and_the_nights_of_the_stay_through_indexes(
    catalogue: ReadModel, sort: Any
) -> None:
    check_in = soon(10).date()
    criteria = StayCriteria("City 3", check_in, check_in + timedelta(days=3), rooms=1, guests=2, sort=sort)
    with Session(catalogue.engine) as session:
        assert len(find_hotels(session, criteria, None, 100)) == 50  # every hotel of the city

    scans = _scans(_plan(catalogue, hotels_query(criteria, None, 21), f"hotels by {sort}"))

    assert all("Seq Scan" not in kind for kind in scans["room_nights"]), scans
    assert all("Seq Scan" not in kind for kind in scans["hotels"]), scans
