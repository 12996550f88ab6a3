"""Buses, schedules and seat maps through the HTTP API, against a real inventory database."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tripline.testing import assert_problem, assert_same_not_found
from tripline.timestamps import rfc3339, utcnow

from ..support import ADMIN, bearer, outbox_payloads, plain_url, sql

OPERATOR = bearer("op-account-1", "operator")
OTHER_OPERATOR = bearer("op-account-2", "operator")
CUSTOMER = bearer("customer-1", "customer")
OWNER = bearer("owner-1", "owner")
UPSERTED = "inventory.evt.schedule.upserted"
BUS_KEYS = {"id", "operator_id", "registration", "bus_type", "amenities", "seats", "created_at"}
SCHEDULE_KEYS = {"id", "operator_id", "bus_id", "origin", "destination", "departs_at", "arrives_at", "fare", "status"}
SCHEDULE_KEYS |= {"available_seats", "seat_map"} | {"cancelled_at", "total_seats", "version"}  # contract | ours
Sql = Callable[..., list[tuple[Any, ...]]]
Events = Callable[[], list[dict[str, Any]]]
WAITING_FOR_A_ROW_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE '%%FOR UPDATE%%'"
)
LEFT_OUT = object()  # a field the request does not carry at all
DEPARTS = (utcnow() + timedelta(days=10)).replace(microsecond=0)
ARRIVES = DEPARTS + timedelta(hours=9)


def make_operator(db: Sql, account_id: str = "op-account-1", status: str = "pending") -> str:
    """An operator row for ``account_id``, written straight to the table (the operators API is not ours)."""
    operator_id = str(uuid.uuid4())
    columns = (operator_id, account_id, f"Travels of {account_id}", f"{account_id}@example.com", status)
    db(
        "INSERT INTO operators (id, account_id, name, contact_email, approval_status, submitted_at)"
        " VALUES (%s, %s, %s, %s, %s, now())",
        *columns,
    )
    return operator_id


def bus_body(operator_id: str, /, **changes: Any) -> dict[str, Any]:
    seats = ["1A", "1B", "2A", "2B"]
    body = {"operator_id": operator_id, "registration": "MH-01-AB-1234", "bus_type": "sleeper", "seats": seats}
    return {k: v for k, v in {**body, "amenities": ["ac", "wifi"], **changes}.items() if v is not LEFT_OUT}


def schedule_body(bus_id: str, /, **changes: Any) -> dict[str, Any]:
    times = {"departs_at": rfc3339(DEPARTS), "arrives_at": rfc3339(ARRIVES)}
    fare = {"amount_minor": 125000, "currency": "INR"}
    return {"bus_id": bus_id, "origin": "Mumbai", "destination": "Goa", **times, "fare": fare, **changes}


def created(response: Any) -> Any:
    assert response.status_code == 201, response.json
    return response.json


def create_bus(client: FlaskClient, operator_id: str, **changes: Any) -> Any:
    return created(client.post("/v1/buses", json=bus_body(operator_id, **changes), headers=OPERATOR))


def create_schedule(client: FlaskClient, bus_id: str, **changes: Any) -> Any:
    return created(client.post("/v1/schedules", json=schedule_body(bus_id, **changes), headers=OPERATOR))


@pytest.fixture
def db(database_url: str) -> Sql:
    """``sql`` bound to this test's database."""
    return functools.partial(sql, database_url)


@pytest.fixture
def events(database_url: str) -> Events:
    """``schedule.upserted`` payloads queued so far."""
    return functools.partial(outbox_payloads, database_url, UPSERTED)


@pytest.fixture
def operator_id(db: Sql) -> str:
    return make_operator(db)


@pytest.fixture
def bus(client: FlaskClient, operator_id: str) -> Any:
    return create_bus(client, operator_id)


@pytest.fixture
def schedule(client: FlaskClient, bus: Any) -> Any:
    return create_schedule(client, bus["id"])


def cancel(client: FlaskClient, schedule_id: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/schedules/{schedule_id}/cancel", headers=headers or {})


def occupy(db: Sql, schedule_id: str, seat: str, status: str) -> None:
    """Put a seat in a hold's hands the way the holds side would (its own code is not ours to call)."""
    statement = "UPDATE seats SET status = %s, hold_id = gen_random_uuid() WHERE schedule_id = %s AND seat_no = %s"
    db(statement, status, schedule_id, seat)


# Buses ----------------------------------------------------------------------------------------------------------


def test_pending_operator_registers_bus_with_normalised_plate(client: FlaskClient, db: Sql, operator_id: str) -> None:
    response = client.post("/v1/buses", json=bus_body(operator_id, registration="  mh-01-ab-1234 "), headers=OPERATOR)
    bus = created(response)
    assert set(bus) == BUS_KEYS
    assert (bus["operator_id"], bus["registration"]) == (operator_id, "MH-01-AB-1234")
    assert (bus["bus_type"], bus["amenities"], bus["seats"]) == ("sleeper", ["ac", "wifi"], ["1A", "1B", "2A", "2B"])
    assert bus["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/v1/buses/{bus['id']}"
    kept = db("SELECT registration, seat_labels, operator_id::text FROM buses WHERE id = %s", bus["id"])
    assert kept == [("MH-01-AB-1234", ["1A", "1B", "2A", "2B"], operator_id)]


def test_amenities_may_be_left_out(client: FlaskClient, operator_id: str) -> None:
    assert create_bus(client, operator_id, amenities=LEFT_OUT)["amenities"] == []


def test_a_bus_may_have_exactly_one_hundred_seats(client: FlaskClient, operator_id: str) -> None:
    labels = [f"S{i}" for i in range(100)]
    assert create_bus(client, operator_id, seats=labels)["seats"] == labels


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"seats": LEFT_OUT}, "seats"),
        ({"seats": []}, "seats"),
        ({"seats": [f"S{i}" for i in range(101)]}, "seats"),
        ({"seats": ["1A", "1B", "1A"]}, "seats[2]"),
        ({"seats": ["1A", "1 B"]}, "seats[1]"),
        ({"seats": ["1A", 2]}, "seats[1]"),
        ({"bus_type": "double_decker"}, "bus_type"),
        ({"registration": "R" * 21}, "registration"),
        ({"registration": "MH\x0001"}, "registration"),
        ({"amenities": ["AC"]}, "amenities[0]"),
        ({"amenities": ["ac", "ac"]}, "amenities[1]"),
        ({"operator_id": "not-a-uuid"}, "operator_id"),
    ],
)
def test_an_invalid_bus_is_400_naming_the_field(
    client: FlaskClient, db: Sql, operator_id: str, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/buses", json=bus_body(operator_id, **changes), headers=OPERATOR)
    assert_problem(response, 400, "validation_failed", field)
    assert db("SELECT count(*) FROM buses") == [(0,)]


@pytest.mark.parametrize("path", ["/v1/buses", "/v1/schedules"])
def test_malformed_json_is_400_and_a_body_that_is_not_json_is_415(client: FlaskClient, path: str) -> None:
    malformed = client.post(path, data='{"seats": [', content_type="application/json", headers=OPERATOR)
    assert_problem(malformed, 400, "malformed_json")
    # The shared parser answers a non-JSON content type with 415, not 400: the body is never read as JSON.
    plain = client.post(path, data="a=1", content_type="text/plain", headers=OPERATOR)
    assert_problem(plain, 415, "unsupported_media_type")


def test_registering_a_bus_needs_a_token_and_the_operator_role(client: FlaskClient, operator_id: str) -> None:
    assert_problem(client.post("/v1/buses", json=bus_body(operator_id)), 401, "unauthorized")
    for headers in (CUSTOMER, OWNER, ADMIN):
        assert_problem(client.post("/v1/buses", json=bus_body(operator_id), headers=headers), 403, "forbidden")


def test_a_bus_for_someone_elses_operator_is_404_like_unknown(client: FlaskClient, db: Sql, operator_id: str) -> None:
    theirs = client.post("/v1/buses", json=bus_body(operator_id), headers=OTHER_OPERATOR)
    unknown = client.post("/v1/buses", json=bus_body(str(uuid.uuid4())), headers=OPERATOR)
    assert_same_not_found(theirs, unknown)
    assert theirs.json["detail"] == "The operator does not exist."
    assert db("SELECT count(*) FROM buses") == [(0,)]


def test_a_taken_registration_is_409_whoever_holds_it(client: FlaskClient, db: Sql, operator_id: str) -> None:
    create_bus(client, operator_id, registration="MH-01-AB-1234")
    same_plate = bus_body(make_operator(db, "op-account-2"), registration=" mh-01-ab-1234")
    assert_problem(client.post("/v1/buses", json=same_plate, headers=OTHER_OPERATOR), 409, "registration_taken")
    assert db("SELECT count(*) FROM buses") == [(1,)]


def test_the_owning_operator_and_admins_read_a_bus(client: FlaskClient, bus: Any) -> None:
    for headers in (OPERATOR, ADMIN):
        response = client.get(f"/v1/buses/{bus['id']}", headers=headers)
        assert response.status_code == 200
        assert response.json == bus


def test_another_operators_bus_is_404_like_an_unknown_one(client: FlaskClient, bus: Any) -> None:
    theirs = client.get(f"/v1/buses/{bus['id']}", headers=OTHER_OPERATOR)
    assert_same_not_found(theirs, client.get(f"/v1/buses/{uuid.uuid4()}", headers=OPERATOR))


def test_reading_a_bus_needs_a_token_and_an_operator_or_admin_role(client: FlaskClient, bus: Any) -> None:
    assert_problem(client.get(f"/v1/buses/{bus['id']}"), 401, "unauthorized")
    for headers in (CUSTOMER, OWNER):
        assert_problem(client.get(f"/v1/buses/{bus['id']}", headers=headers), 403, "forbidden")


# Schedules ------------------------------------------------------------------------------------------------------


def test_publishing_a_schedule_opens_every_seat_and_announces_version_1(
    client: FlaskClient, db: Sql, bus: Any, events: Events
) -> None:
    response = client.post("/v1/schedules", json=schedule_body(bus["id"]), headers=OPERATOR)
    schedule = created(response)
    assert set(schedule) == SCHEDULE_KEYS
    assert response.headers["Location"] == f"/v1/schedules/{schedule['id']}"
    owned = (schedule["operator_id"], schedule["bus_id"], schedule["status"])
    assert owned == (bus["operator_id"], bus["id"], "active")
    assert (schedule["origin"], schedule["destination"], schedule["cancelled_at"]) == ("Mumbai", "Goa", None)
    assert (schedule["departs_at"], schedule["arrives_at"]) == (rfc3339(DEPARTS), rfc3339(ARRIVES))
    assert schedule["fare"] == {"amount_minor": 125000, "currency": "INR"}
    assert (schedule["available_seats"], schedule["total_seats"], schedule["version"]) == (4, 4, 1)
    assert schedule["seat_map"] == [{"seat": label, "status": "available"} for label in bus["seats"]]
    kept = "SELECT operator_id::text, fare_minor, currency, total_seats, available_seats, version FROM schedules"
    assert db(kept) == [(bus["operator_id"], 125000, "INR", 4, 4, 1)]
    seats = "SELECT seat_no, position, status, hold_id FROM seats WHERE schedule_id = %s ORDER BY position"
    assert db(seats, schedule["id"]) == [(label, i, "free", None) for i, label in enumerate(bus["seats"])]
    [event] = events()
    assert (event["schedule_id"], event["version"], event["status"]) == (schedule["id"], 1, "active")
    assert (event["total_seats"], event["available_seats"], event["bus_type"]) == (4, 4, "sleeper")


def test_times_with_an_offset_are_shown_in_utc_and_places_are_trimmed(client: FlaskClient, bus: Any) -> None:
    ist_wall_clock = DEPARTS.replace(tzinfo=None).isoformat() + "+05:30"
    schedule = create_schedule(client, bus["id"], origin="  Mumbai ", destination=" Goa", departs_at=ist_wall_clock)
    assert schedule["departs_at"] == rfc3339(DEPARTS - timedelta(hours=5, minutes=30))
    assert (schedule["origin"], schedule["destination"]) == ("Mumbai", "Goa")


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"driver": "Ravi"}, "validation_failed", "driver"),
        ({"departs_at": rfc3339(utcnow() - timedelta(minutes=1))}, "validation_failed", "departs_at"),
        ({"arrives_at": rfc3339(DEPARTS - timedelta(minutes=1))}, "validation_failed", "arrives_at"),
        ({"destination": " mumbai "}, "validation_failed", "destination"),
        ({"origin": ""}, "validation_failed", "origin"),
        ({"fare": {"amount_minor": 125000, "currency": "USD"}}, "unsupported_currency", "fare.currency"),
        ({"fare": {"amount_minor": -1, "currency": "INR"}}, "validation_failed", "fare.amount_minor"),
        ({"fare": {"amount_minor": 12.5, "currency": "INR"}}, "validation_failed", "fare.amount_minor"),
        ({"fare": {"amount_minor": 10**10 + 1, "currency": "INR"}}, "validation_failed", "fare.amount_minor"),
        ({"departs_at": DEPARTS.replace(tzinfo=None).isoformat()}, "validation_failed", "departs_at"),
        ({"departs_at": "9999-12-31T23:00:00-05:00"}, "validation_failed", "departs_at"),
        ({"departs_at": "next tuesday"}, "validation_failed", "departs_at"),
        ({"bus_id": 7}, "validation_failed", "bus_id"),
    ],
)
def test_an_invalid_schedule_is_400_naming_the_field(
    client: FlaskClient, db: Sql, bus: Any, changes: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/v1/schedules", json=schedule_body(bus["id"], **changes), headers=OPERATOR)
    assert_problem(response, 400, code, field)
    assert db("SELECT count(*) FROM schedules") == [(0,)]


def test_publishing_a_schedule_needs_a_token_and_the_operator_role(client: FlaskClient, bus: Any) -> None:
    assert_problem(client.post("/v1/schedules", json=schedule_body(bus["id"])), 401, "unauthorized")
    for headers in (CUSTOMER, OWNER, ADMIN):
        assert_problem(client.post("/v1/schedules", json=schedule_body(bus["id"]), headers=headers), 403, "forbidden")


def test_scheduling_another_operators_bus_is_404_like_an_unknown_bus(client: FlaskClient, db: Sql, bus: Any) -> None:
    make_operator(db, "op-account-2")
    theirs = client.post("/v1/schedules", json=schedule_body(bus["id"]), headers=OTHER_OPERATOR)
    unknown = client.post("/v1/schedules", json=schedule_body(str(uuid.uuid4())), headers=OPERATOR)
    assert_same_not_found(theirs, unknown)
    assert theirs.json["detail"] == "The bus does not exist."
    assert db("SELECT count(*) FROM schedules") == [(0,)]


def test_any_authenticated_caller_reads_a_schedule(client: FlaskClient, schedule: Any) -> None:
    for headers in (CUSTOMER, OWNER, OTHER_OPERATOR, ADMIN, OPERATOR):
        response = client.get(f"/v1/schedules/{schedule['id']}", headers=headers)
        assert (response.status_code, response.json) == (200, schedule), headers


def test_reading_a_schedule_needs_a_token_and_an_existing_id(client: FlaskClient, schedule: Any) -> None:
    assert_problem(client.get(f"/v1/schedules/{schedule['id']}"), 401, "unauthorized")
    assert_problem(client.get(f"/v1/schedules/{uuid.uuid4()}", headers=CUSTOMER), 404, "not_found")


def test_the_seat_map_shows_held_and_sold_seats_in_bus_order(client: FlaskClient, db: Sql, schedule: Any) -> None:
    occupy(db, schedule["id"], "1B", "held")
    occupy(db, schedule["id"], "2A", "sold")
    db("UPDATE schedules SET available_seats = 2 WHERE id = %s", schedule["id"])

    shown = client.get(f"/v1/schedules/{schedule['id']}", headers=CUSTOMER).json

    assert [(entry["seat"], entry["status"]) for entry in shown["seat_map"]] == [
        *[("1A", "available"), ("1B", "held")],
        *[("2A", "sold"), ("2B", "available")],
    ]
    assert shown["available_seats"] == 2


# Cancelling -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [OPERATOR, ADMIN], ids=["owning-operator", "admin"])
def test_cancelling_a_schedule_bumps_its_version_and_announces_it(
    client: FlaskClient, db: Sql, schedule: Any, events: Events, headers: dict[str, str]
) -> None:
    response = cancel(client, schedule["id"], headers)

    assert response.status_code == 200
    cancelled = response.json
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 2)
    assert cancelled["cancelled_at"].endswith("Z")
    assert cancelled["seat_map"] == schedule["seat_map"]
    assert db("SELECT status, version, cancelled_at IS NOT NULL FROM schedules") == [("cancelled", 2, True)]
    assert [(e["schedule_id"], e["version"], e["status"]) for e in events()] == [
        (schedule["id"], 1, "active"),
        (schedule["id"], 2, "cancelled"),
    ]
    assert client.get(f"/v1/schedules/{schedule['id']}", headers=CUSTOMER).json == cancelled


def test_cancelling_leaves_held_and_sold_seats_to_the_holds_side(client: FlaskClient, db: Sql, schedule: Any) -> None:
    occupy(db, schedule["id"], "1A", "sold")
    cancel(client, schedule["id"], OPERATOR)
    assert db("SELECT status, hold_id IS NOT NULL FROM seats WHERE seat_no = '1A'") == [("sold", True)]


def test_cancelling_twice_is_409_without_an_event(client: FlaskClient, db: Sql, schedule: Any, events: Events) -> None:
    cancel(client, schedule["id"], OPERATOR)
    assert_problem(cancel(client, schedule["id"], ADMIN), 409, "invalid_transition")
    assert db("SELECT version FROM schedules") == [(2,)]
    assert len(events()) == 2


def test_cancelling_a_departed_schedule_is_409(client: FlaskClient, db: Sql, schedule: Any, events: Events) -> None:
    db("UPDATE schedules SET departs_at = now() - interval '1 hour', arrives_at = now() + interval '1 hour'")
    assert_problem(cancel(client, schedule["id"], OPERATOR), 409, "schedule_departed")
    assert db("SELECT status, version FROM schedules") == [("active", 1)]
    assert len(events()) == 1


def test_a_cancel_waits_for_the_row_lock_and_judges_what_was_committed_meanwhile(
    client: FlaskClient, database_url: str, db: Sql, schedule: Any
) -> None:
    with psycopg.connect(plain_url(database_url)) as rival, ThreadPoolExecutor(1) as pool:
        rival.execute("SELECT 1 FROM schedules WHERE id = %s FOR UPDATE", (schedule["id"],))
        pending = pool.submit(cancel, client, schedule["id"], OPERATOR)
        assert any(db(WAITING_FOR_A_ROW_LOCK) == [(1,)] for _ in range(5000)), "the cancel never queued behind the lock"
        rival.execute("UPDATE schedules SET status = 'cancelled', cancelled_at = now(), version = 2")
        rival.commit()
        assert_problem(pending.result(timeout=30), 409, "invalid_transition")


def test_cancelling_someone_elses_schedule_is_404_like_unknown(client: FlaskClient, db: Sql, schedule: Any) -> None:
    assert_same_not_found(cancel(client, schedule["id"], OTHER_OPERATOR), cancel(client, str(uuid.uuid4()), OPERATOR))
    assert db("SELECT status FROM schedules") == [("active",)]


def test_cancelling_needs_a_token_and_the_operator_or_admin_role(client: FlaskClient, db: Sql, schedule: Any) -> None:
    # A customer or owner is refused for its role (403) before any question of whose schedule it is.
    assert_problem(cancel(client, schedule["id"]), 401, "unauthorized")
    assert_problem(cancel(client, schedule["id"], CUSTOMER), 403, "forbidden")
    assert_problem(cancel(client, schedule["id"], OWNER), 403, "forbidden")
    assert db("SELECT status FROM schedules") == [("active",)]


def test_fleet_routes_are_published_in_openapi(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    routes = {"/v1/buses": {"post"}, "/v1/buses/{bus_id}": {"get"}, "/v1/schedules": {"post"}}
    routes |= {"/v1/schedules/{schedule_id}": {"get"}, "/v1/schedules/{schedule_id}/cancel": {"post"}}
    assert {path: set(paths.get(path, ())) for path in routes} == routes
    assert {"201", "400", "401", "403", "404", "409"} <= set(paths["/v1/buses"]["post"]["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(paths["/v1/schedules/{schedule_id}/cancel"]["post"]["responses"])
