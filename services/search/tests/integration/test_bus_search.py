"""``GET /v1/search/buses``: approved operators, active future departures with the seats, in the order asked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tripline.http.validation import encode_cursor
from tripline.testing import assert_problem

from ..supply import ReadModel, operator, schedule, seats, soon

DAY = soon(3).date()


def _at(hour: int, minute: int = 0, day_offset: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=day_offset), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=hour, minutes=minute
    )


def _search(client: FlaskClient, **params: Any) -> Any:
    query = {"origin": "Mumbai", "destination": "Goa", "date": DAY.isoformat()} | params
    response = client.get("/v1/search/buses", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def _ids(page: Any) -> list[str]:
    return [item["schedule_id"] for item in page["items"]]


@pytest.fixture
def approved(read_model: ReadModel) -> uuid.UUID:
    operator_id = uuid.uuid4()
    read_model.apply(operator(operator_id, "approved"))
    return operator_id


def test_a_departure_is_listed_with_every_field_of_the_contract(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    schedule_id = uuid.uuid4()
    read_model.apply(
        schedule(schedule_id, approved, departs_at=_at(8, 30), duration_minutes=615, fare_minor=125_000),
        seats(schedule_id, 37, version=2),
    )

    [trip] = _search(client)["items"]

    assert trip == {
        "schedule_id": str(schedule_id),
        "operator": {"id": str(approved), "name": "Konkan Travels"},
        "origin": "Mumbai",
        "destination": "Goa",
        "departs_at": f"{DAY}T08:30:00Z",
        "arrives_at": f"{DAY}T18:45:00Z",
        "duration_minutes": 615,
        "fare": {"amount_minor": 125_000, "currency": "INR"},
        "available_seats": 37,
        "bus_type": "sleeper",
        "amenities": ["ac", "wifi"],
    }


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_departures_of_an_operator_not_approved_are_not_listed(
    read_model: ReadModel, client: FlaskClient, status: str
) -> None:
    operator_id = uuid.uuid4()
    read_model.apply(operator(operator_id, status), schedule(uuid.uuid4(), operator_id, departs_at=_at(9)))

    assert _search(client)["items"] == []


def test_approval_lists_an_operators_departures_and_suspension_hides_them(
    read_model: ReadModel, client: FlaskClient
) -> None:
    operator_id = uuid.uuid4()
    read_model.apply(schedule(uuid.uuid4(), operator_id, departs_at=_at(9)))
    assert _search(client)["items"] == []  # the operator is not known yet

    read_model.apply(operator(operator_id, "approved", version=2))
    assert len(_search(client)["items"]) == 1

    read_model.apply(operator(operator_id, "suspended", version=3))
    assert _search(client)["items"] == []


def test_cancelled_and_departed_schedules_are_not_listed(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    departed = datetime.now(UTC) - timedelta(minutes=5)
    read_model.apply(
        schedule(uuid.uuid4(), approved, departs_at=_at(7), status="cancelled"),
        schedule(uuid.uuid4(), approved, departs_at=departed),
    )

    assert _search(client)["items"] == []
    assert _search(client, date=departed.date().isoformat())["items"] == []


def test_only_departures_with_the_seats_asked_for_are_listed(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    schedule_id = uuid.uuid4()
    read_model.apply(schedule(schedule_id, approved, departs_at=_at(9)), seats(schedule_id, 3, version=2))

    assert _ids(_search(client, seats=3)) == [str(schedule_id)]
    assert _search(client, seats=4)["items"] == []

    read_model.apply(seats(schedule_id, 0, version=3))
    assert _search(client)["items"] == []


def test_city_names_match_whatever_their_case_and_spacing(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    read_model.apply(schedule(uuid.uuid4(), approved, origin="New Delhi", destination="Jaipur", departs_at=_at(6)))

    assert len(_search(client, origin="  new   DELHI ", destination="jaipur")["items"]) == 1
    assert _search(client, origin="New Delhi", destination="Goa")["items"] == []
    assert _search(client, origin="Jaipur", destination="New Delhi")["items"] == []


def test_the_date_is_the_departures_date_in_utc(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    late, midnight = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        schedule(late, approved, departs_at=_at(23, 59)),
        schedule(midnight, approved, departs_at=_at(0, day_offset=1)),
    )

    assert _ids(_search(client)) == [str(late)]
    assert _ids(_search(client, date=(DAY + timedelta(days=1)).isoformat())) == [str(midnight)]


def test_fare_and_bus_type_filters(read_model: ReadModel, approved: uuid.UUID, client: FlaskClient) -> None:
    cheap, dear, seater = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        schedule(cheap, approved, departs_at=_at(6), fare_minor=50_000),
        schedule(dear, approved, departs_at=_at(7), fare_minor=90_000),
        schedule(seater, approved, departs_at=_at(8), fare_minor=40_000, bus_type="seater"),
    )

    assert _ids(_search(client, max_fare_minor=50_000)) == [str(cheap), str(seater)]
    assert _ids(_search(client, bus_type="seater")) == [str(seater)]
    assert _ids(_search(client, bus_type="sleeper", max_fare_minor=49_999)) == []


def test_each_sort_orders_by_its_key_then_departure(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    early_dear_slow, late_cheap_fast, noon_cheap_slow = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        schedule(early_dear_slow, approved, departs_at=_at(6), fare_minor=90_000, duration_minutes=700),
        schedule(late_cheap_fast, approved, departs_at=_at(20), fare_minor=50_000, duration_minutes=400),
        schedule(noon_cheap_slow, approved, departs_at=_at(12), fare_minor=50_000, duration_minutes=700),
    )

    assert _ids(_search(client)) == [str(early_dear_slow), str(noon_cheap_slow), str(late_cheap_fast)]
    assert _ids(_search(client, sort="price")) == [str(noon_cheap_slow), str(late_cheap_fast), str(early_dear_slow)]
    assert _ids(_search(client, sort="duration")) == [
        str(late_cheap_fast),
        str(early_dear_slow),
        str(noon_cheap_slow),
    ]


@pytest.mark.parametrize("sort", ["departure", "price", "duration"])
def test_pages_return_every_match_exactly_once_in_order(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient, sort: str
) -> None:
    # Many ties: equal fares, durations and even departure times, so the id must break them.
    events = [
        schedule(
            uuid.uuid4(),
            approved,
            departs_at=_at(6 + n % 5),
            fare_minor=40_000 + 10_000 * (n % 3),
            duration_minutes=300 + 60 * (n % 4),
        )
        for n in range(23)
    ]
    read_model.apply(*events)
    everything = _search(client, sort=sort, limit=100)

    seen: list[str] = []
    page = _search(client, sort=sort, limit=5)
    while True:
        seen += _ids(page)
        if page["next_cursor"] is None:
            break
        page = _search(client, sort=sort, limit=5, cursor=page["next_cursor"])

    assert seen == _ids(everything)
    assert sorted(seen) == sorted(str(event.schedule_id) for event in events)
    key = {
        "departure": lambda t: (0,),
        "price": lambda t: (t["fare"]["amount_minor"],),
        "duration": lambda t: (t["duration_minutes"],),
    }[sort]
    trips = everything["items"]
    assert [(*key(t), t["departs_at"], t["schedule_id"]) for t in trips] == sorted(
        (*key(t), t["departs_at"], t["schedule_id"]) for t in trips
    )


def test_a_full_last_page_has_no_next_cursor(read_model: ReadModel, approved: uuid.UUID, client: FlaskClient) -> None:
    read_model.apply(*(schedule(uuid.uuid4(), approved, departs_at=_at(6 + n)) for n in range(4)))

    first = _search(client, limit=2)
    second = _search(client, limit=2, cursor=first["next_cursor"])

    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


def test_a_cursor_is_only_good_for_its_own_sort(
    read_model: ReadModel, approved: uuid.UUID, client: FlaskClient
) -> None:
    read_model.apply(*(schedule(uuid.uuid4(), approved, departs_at=_at(6 + n)) for n in range(3)))
    cursor = _search(client, sort="price", limit=1)["next_cursor"]

    query = {"origin": "Mumbai", "destination": "Goa", "date": DAY.isoformat()}
    assert_problem(
        client.get("/v1/search/buses", query_string=query | {"sort": "duration", "cursor": cursor}),
        400,
        "invalid_cursor",
        "cursor",
    )
    assert_problem(
        client.get("/v1/search/buses", query_string=query | {"cursor": "bm90LWEtY3Vyc29y"}), 400, "invalid_cursor"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"origin": None}, "origin"),
        ({"destination": None}, "destination"),
        ({"date": None}, "date"),
        ({"origin": "   "}, "origin"),
        ({"origin": "x" * 101}, "origin"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "tomorrow"}, "date"),
        ({"seats": "0"}, "seats"),
        ({"seats": "101"}, "seats"),
        ({"seats": "two"}, "seats"),
        ({"sort": "cheapest"}, "sort"),
        ({"bus_type": "double_decker"}, "bus_type"),
        ({"max_fare_minor": "-1"}, "max_fare_minor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"when": "today"}, "when"),
    ],
)
def test_bad_queries_are_refused_naming_the_parameter(
    client: FlaskClient, params: dict[str, str | None], field: str
) -> None:
    query = {"origin": "Mumbai", "destination": "Goa", "date": DAY.isoformat()} | params
    response = client.get("/v1/search/buses", query_string={k: v for k, v in query.items() if v is not None})

    assert_problem(response, 400, "validation_failed", field)


def test_the_last_day_of_the_calendar_is_refused_not_a_fault(client: FlaskClient) -> None:
    query = {"origin": "Mumbai", "destination": "Goa", "date": "9999-12-31"}

    assert_problem(client.get("/v1/search/buses", query_string=query), 400, "validation_failed", "date")
    assert _search(client, date="9999-12-30")["items"] == []


@pytest.mark.parametrize(
    "position",
    [
        {"sort": "departure", "rank": 10**30, "departs_at": "2030-01-01T00:00:00+00:00"},
        {"sort": "departure", "rank": 0, "departs_at": "2030-01-01T00:00:00"},  # no time zone
        {"sort": "departure", "rank": 0, "departs_at": "yesterday"},
    ],
)
def test_a_cursor_outside_what_this_api_issues_is_refused(client: FlaskClient, position: dict[str, Any]) -> None:
    cursor = encode_cursor(position | {"schedule_id": str(uuid.uuid4())})
    query = {"origin": "Mumbai", "destination": "Goa", "date": DAY.isoformat(), "cursor": cursor}

    assert_problem(client.get("/v1/search/buses", query_string=query), 400, "invalid_cursor")
