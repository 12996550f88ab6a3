"""Hotels, room types and nightly allotments through the HTTP API, against a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from ..support import ADMIN, bearer, outbox_payloads, sql

Json = dict[str, Any]
OWNER = bearer("owner-1", "owner")
RIVAL = bearer("owner-2", "owner")
HOTEL_UPSERTED = "inventory.evt.hotel.upserted"
NIGHTS_CHANGED = "inventory.evt.room_nights.changed"
ROOM_TYPE = {"name": "Deluxe", "capacity": 2, "amenities": ["ac"]}
MISSING = object()
START = datetime.now(UTC).date() + timedelta(days=30)  # far enough ahead to stay in the future all run long


def add_owner(database_url: str, account_id: str, status: str = "pending") -> str:
    """A property owner row, written directly (the property-owners API is not under test here)."""
    owner_id = str(uuid.uuid4())
    columns = "id, account_id, name, contact_email, approval_status, submitted_at"
    row = (owner_id, account_id, f"Stays of {account_id}", f"{account_id}@stays.example", status)
    sql(database_url, f"INSERT INTO property_owners ({columns}) VALUES (%s, %s, %s, %s, %s, now())", *row)
    return owner_id


def hotel_body(owner: str, **changes: Any) -> Json:
    body = {"owner_id": owner, "name": "Sea Breeze", "city": "Goa", "address": "1 Beach Road", "stars": 4}
    body = {**body, "amenities": ["wifi", "pool"], **changes}
    return {name: value for name, value in body.items() if value is not MISSING}


def nights_body(start: date = START, nights: int = 3, rooms: int = 10, amount: int = 450_000) -> Json:
    end = start + timedelta(days=nights)
    rate = {"amount_minor": amount, "currency": "INR"}
    return {"from": start.isoformat(), "to": end.isoformat(), "rooms": rooms, "rate": rate}


def today() -> date:  # as the API judges "not in the past"
    return datetime.now(UTC).date()


def night(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


def fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.json
    return [error["field"] for error in response.json["errors"]]


@pytest.fixture
def owner_id(database_url: str) -> str:
    add_owner(database_url, "owner-2")
    return add_owner(database_url, "owner-1")


@pytest.fixture
def hotel(client: FlaskClient, owner_id: str) -> Json:
    response = client.post("/v1/hotels", json=hotel_body(owner_id), headers=OWNER)
    assert response.status_code == 201, response.json
    return dict(response.json)


@pytest.fixture
def room_type(client: FlaskClient, hotel: Json) -> Json:
    body = {**ROOM_TYPE, "name": " Deluxe "}  # stored trimmed, so "Deluxe" is then a duplicate
    response = client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body, headers=OWNER)
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == f"/v1/room-types/{response.json['id']}"
    return dict(response.json)


def nights_url(room_type: Json) -> str:
    return f"/v1/room-types/{room_type['id']}/nights"


# Hotels ---------------------------------------------------------------------------------------------------------


def test_a_pending_owner_registers_a_hotel_and_it_is_announced(
    client: FlaskClient, database_url: str, owner_id: str
) -> None:
    response = client.post("/v1/hotels", json=hotel_body(owner_id, name="  Sea Breeze  "), headers=OWNER)
    assert response.status_code == 201
    hotel = response.json
    assert response.headers["Location"] == f"/v1/hotels/{hotel['id']}"
    expected = {**hotel_body(owner_id), "is_active": True, "room_types": []}
    assert {k: v for k, v in hotel.items() if k not in ("id", "created_at", "updated_at")} == expected
    assert hotel["created_at"].endswith("Z")
    assert hotel["updated_at"] == hotel["created_at"]
    assert sql(database_url, "SELECT name, version FROM hotels") == [("Sea Breeze", 1)]
    [event] = outbox_payloads(database_url, HOTEL_UPSERTED)
    assert (event["hotel_id"], event["version"], event["is_active"]) == (hotel["id"], 1, True)


def test_the_owner_and_an_admin_see_the_hotel(client: FlaskClient, hotel: Json) -> None:
    assert client.get(f"/v1/hotels/{hotel['id']}", headers=OWNER).json == hotel
    assert client.get(f"/v1/hotels/{hotel['id']}", headers=ADMIN).json == hotel


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stars": 0}, "stars"),
        ({"stars": 6}, "stars"),
        ({"stars": "4"}, "stars"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"city": ""}, "city"),
        ({"city": "Go\u0000a"}, "city"),
        ({"address": "x" * 501}, "address"),
        ({"amenities": ["WiFi"]}, "amenities[0]"),
        ({"amenities": ["wifi", "wifi"]}, "amenities"),
        ({"amenities": [f"a{i}" for i in range(31)]}, "amenities"),
        ({"owner_id": "not-a-uuid"}, "owner_id"),
        ({"rating": 5}, "rating"),
        ({"city": MISSING}, "city"),
    ],
)
def test_an_invalid_hotel_is_400(client: FlaskClient, owner_id: str, changes: Json, field: str) -> None:
    body = hotel_body(owner_id, **changes)
    assert fields(client.post("/v1/hotels", json=body, headers=OWNER)) == [field]


def test_malformed_json_is_400(client: FlaskClient, room_type: Json) -> None:
    headers = {**OWNER, "Content-Type": "application/json"}
    hotel_url = f"/v1/hotels/{room_type['hotel_id']}"
    for method, url in [("POST", "/v1/hotels"), ("PATCH", hotel_url), ("PUT", nights_url(room_type))]:
        response = client.open(url, method=method, data="{not json", headers=headers)
        assert (response.status_code, response.json["code"]) == (400, "malformed_json")


def test_registering_a_hotel_needs_a_token(client: FlaskClient, owner_id: str) -> None:
    assert client.post("/v1/hotels", json=hotel_body(owner_id)).status_code == 401


@pytest.mark.parametrize("role", ["operator", "customer", "admin"])
def test_only_owners_register_hotels(client: FlaskClient, owner_id: str, role: str) -> None:
    response = client.post("/v1/hotels", json=hotel_body(owner_id), headers=bearer("owner-1", role))
    assert (response.status_code, response.json["code"]) == (403, "forbidden")


def test_a_hotel_for_another_accounts_owner_or_an_unknown_one_is_404(
    client: FlaskClient, database_url: str, owner_id: str
) -> None:
    for body in (hotel_body(owner_id), hotel_body(str(uuid.uuid4()))):
        response = client.post("/v1/hotels", json=body, headers=RIVAL)
        assert (response.status_code, response.json["detail"]) == (404, "The property owner does not exist.")
    assert sql(database_url, "SELECT count(*) FROM hotels") == [(0,)]


def test_another_owners_hotel_reads_like_an_unknown_one(client: FlaskClient, hotel: Json) -> None:
    theirs = client.get(f"/v1/hotels/{hotel['id']}", headers=RIVAL)
    unknown = client.get(f"/v1/hotels/{uuid.uuid4()}", headers=OWNER)
    assert theirs.status_code == unknown.status_code == 404
    assert [theirs.json[k] for k in ("code", "title", "detail")] == [
        unknown.json[k] for k in ("code", "title", "detail")
    ]
    assert client.get(f"/v1/hotels/{hotel['id']}").status_code == 401
    assert client.get(f"/v1/hotels/{hotel['id']}", headers=bearer("c-1", "customer")).status_code == 403


def test_patch_changes_only_the_fields_given_and_announces_each_version(
    client: FlaskClient, database_url: str, hotel: Json
) -> None:
    url = f"/v1/hotels/{hotel['id']}"
    response = client.patch(url, json={"stars": 5, "amenities": []}, headers=OWNER)
    assert response.status_code == 200
    assert response.json == {**hotel, "stars": 5, "amenities": [], "updated_at": response.json["updated_at"]}
    deactivated = client.patch(url, json={"is_active": False, "name": " Sea Breeze Inn "}, headers=ADMIN)
    assert deactivated.status_code == 200
    assert (deactivated.json["is_active"], deactivated.json["name"]) == (False, "Sea Breeze Inn")
    events = outbox_payloads(database_url, HOTEL_UPSERTED)
    assert [(e["version"], e["stars"], e["is_active"]) for e in events] == [(1, 4, True), (2, 5, True), (3, 5, False)]
    assert sql(database_url, "SELECT version, city FROM hotels") == [(3, "Goa")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "body"),
        ({"city": "Pune"}, "city"),
        ({"name": None}, "name"),
        ({"is_active": None}, "is_active"),
        ({"stars": 6}, "stars"),
        ({"name": ""}, "name"),
        ({"is_active": "no"}, "is_active"),
    ],
)
def test_an_invalid_patch_is_400_and_changes_nothing(
    client: FlaskClient, database_url: str, hotel: Json, changes: Json, field: str
) -> None:
    assert fields(client.patch(f"/v1/hotels/{hotel['id']}", json=changes, headers=OWNER)) == [field]
    assert sql(database_url, "SELECT version FROM hotels") == [(1,)]


def test_patching_someone_elses_or_an_unknown_hotel_is_404(client: FlaskClient, database_url: str, hotel: Json) -> None:
    assert client.patch(f"/v1/hotels/{hotel['id']}", json={"stars": 1}, headers=RIVAL).status_code == 404
    assert client.patch(f"/v1/hotels/{uuid.uuid4()}", json={"stars": 1}, headers=OWNER).status_code == 404
    assert client.patch(f"/v1/hotels/{hotel['id']}", json={"stars": 1}).status_code == 401
    customer = bearer("owner-1", "customer")
    assert client.patch(f"/v1/hotels/{hotel['id']}", json={"stars": 1}, headers=customer).status_code == 403
    assert sql(database_url, "SELECT stars, version FROM hotels") == [(4, 1)]


# Room types -----------------------------------------------------------------------------------------------------


def test_adding_a_room_type_bumps_the_hotels_version_and_announces_it(
    client: FlaskClient, database_url: str, hotel: Json, room_type: Json
) -> None:
    assert room_type == {"id": room_type["id"], "hotel_id": hotel["id"], **ROOM_TYPE}
    assert client.get(f"/v1/room-types/{room_type['id']}", headers=ADMIN).json == room_type
    assert client.get(f"/v1/hotels/{hotel['id']}", headers=OWNER).json["room_types"] == [room_type]
    events = outbox_payloads(database_url, HOTEL_UPSERTED)
    assert [(e["version"], [r["name"] for r in e["room_types"]]) for e in events] == [(1, []), (2, ["Deluxe"])]


def test_a_second_room_type_with_the_same_name_is_409_and_changes_nothing(
    client: FlaskClient, database_url: str, hotel: Json, room_type: Json
) -> None:
    body = {"name": "Deluxe", "capacity": 3, "amenities": []}
    response = client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body, headers=OWNER)
    assert (response.status_code, response.json["code"]) == (409, "already_exists")
    assert sql(database_url, "SELECT version, (SELECT count(*) FROM room_types) FROM hotels") == [(2, 1)]
    assert len(outbox_payloads(database_url, HOTEL_UPSERTED)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Deluxe", "capacity": 0}, "capacity"),
        ({"name": "Deluxe", "capacity": 21}, "capacity"),
        ({"name": " ", "capacity": 2}, "name"),
        ({"name": "x" * 101, "capacity": 2}, "name"),
        ({"name": "Deluxe", "capacity": 2, "amenities": ["sea view"]}, "amenities[0]"),
        ({"name": "Deluxe", "capacity": 2, "beds": 2}, "beds"),
        ({"capacity": 2}, "name"),
    ],
)
def test_an_invalid_room_type_is_400(client: FlaskClient, hotel: Json, body: Json, field: str) -> None:
    assert fields(client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body, headers=OWNER)) == [field]


def test_room_types_of_someone_elses_hotel_are_404_and_need_an_owner(
    client: FlaskClient, database_url: str, hotel: Json, room_type: Json
) -> None:
    body = {"name": "Suite", "capacity": 2}
    assert client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body, headers=RIVAL).status_code == 404
    assert client.post(f"/v1/hotels/{uuid.uuid4()}/room-types", json=body, headers=OWNER).status_code == 404
    assert client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body, headers=ADMIN).status_code == 403
    assert client.post(f"/v1/hotels/{hotel['id']}/room-types", json=body).status_code == 401
    assert client.get(f"/v1/room-types/{room_type['id']}", headers=RIVAL).status_code == 404
    assert client.get(f"/v1/room-types/{uuid.uuid4()}", headers=OWNER).status_code == 404
    assert sql(database_url, "SELECT name FROM room_types") == [("Deluxe",)]


# Nights ---------------------------------------------------------------------------------------------------------


def test_setting_nights_stores_each_night_and_a_second_put_bumps_each_nights_version(
    client: FlaskClient, database_url: str, hotel: Json, room_type: Json
) -> None:
    first = client.put(nights_url(room_type), json=nights_body(nights=2), headers=OWNER)
    rate = {"amount_minor": 450_000, "currency": "INR"}
    assert first.status_code == 200
    assert first.json == {"items": [{"night": night(i), "total": 10, "available": 10, "rate": rate} for i in (0, 1)]}
    second = client.put(
        nights_url(room_type), json=nights_body(START + timedelta(days=1), 2, 6, 500_000), headers=OWNER
    )
    assert [(n["night"], n["total"]) for n in second.json["items"]] == [(night(1), 6), (night(2), 6)]
    rows = sql(database_url, "SELECT night, total, rate_minor, version FROM room_nights ORDER BY night")
    assert [(r[0].isoformat(), *r[1:]) for r in rows] == [
        (night(0), 10, 450_000, 1),
        (night(1), 6, 500_000, 2),
        (night(2), 6, 500_000, 1),
    ]
    first_event, second_event = outbox_payloads(database_url, NIGHTS_CHANGED)
    assert (second_event["room_type_id"], second_event["hotel_id"]) == (room_type["id"], hotel["id"])
    assert [(n["night"], n["version"]) for n in first_event["nights"]] == [(night(0), 1), (night(1), 1)]
    second_versions = [(n["night"], n["version"], n["total"]) for n in second_event["nights"]]
    assert second_versions == [(night(1), 2, 6), (night(2), 1, 6)]


def test_available_counts_rooms_held_and_sold(client: FlaskClient, database_url: str, room_type: Json) -> None:
    client.put(nights_url(room_type), json=nights_body(nights=1), headers=OWNER)
    sql(database_url, "UPDATE room_nights SET held = 2, sold = 3")
    response = client.put(nights_url(room_type), json=nights_body(nights=1, rooms=5), headers=OWNER)
    assert [(n["total"], n["available"]) for n in response.json["items"]] == [(5, 0)]


def test_lowering_below_held_and_sold_is_refused_whole(client: FlaskClient, database_url: str, room_type: Json) -> None:
    # Nights 1 and 3 hold or sell more than 4; nights 0, 2, 4 (and the new night 5) would have been fine.
    client.put(nights_url(room_type), json=nights_body(nights=5, rooms=10), headers=OWNER)
    sql(database_url, "UPDATE room_nights SET held = 3, sold = 2 WHERE night = %s", START + timedelta(days=1))
    sql(database_url, "UPDATE room_nights SET sold = 7 WHERE night = %s", START + timedelta(days=3))
    before = sql(database_url, "SELECT * FROM room_nights ORDER BY night")
    response = client.put(nights_url(room_type), json=nights_body(nights=6, rooms=4, amount=1), headers=OWNER)
    assert (response.status_code, response.json["code"]) == (409, "allotment_below_booked")
    assert response.json["nights"] == [night(1), night(3)]
    assert sql(database_url, "SELECT * FROM room_nights ORDER BY night") == before
    assert len(outbox_payloads(database_url, NIGHTS_CHANGED)) == 1


def test_the_database_refuses_held_plus_sold_over_total(
    client: FlaskClient, database_url: str, room_type: Json
) -> None:
    client.put(nights_url(room_type), json=nights_body(nights=1, rooms=4), headers=OWNER)
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(database_url, "UPDATE room_nights SET held = 3, sold = 2")
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(database_url, "UPDATE room_nights SET total = 1, held = 1, sold = 1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (nights_body(nights=367), "to"),
        (nights_body(nights=0), "to"),
        (nights_body(nights=-2), "to"),
        (nights_body(start=today() - timedelta(days=1)), "from"),
        ({**nights_body(), "rate": {"amount_minor": 100, "currency": "USD"}}, "rate.currency"),
        (nights_body(amount=-1), "rate.amount_minor"),
        (nights_body(amount=10**10 + 1), "rate.amount_minor"),
        (nights_body(rooms=-1), "rooms"),
        (nights_body(rooms=10_001), "rooms"),
        ({**nights_body(), "from": "2026-02-30"}, "from"),
        ({**nights_body(), "hotel_id": "x"}, "hotel_id"),
        ({k: v for k, v in nights_body().items() if k != "rate"}, "rate"),
    ],
)
def test_invalid_nights_are_400_and_change_nothing(
    client: FlaskClient, database_url: str, room_type: Json, body: Json, field: str
) -> None:
    assert fields(client.put(nights_url(room_type), json=body, headers=OWNER)) == [field]
    assert sql(database_url, "SELECT count(*) FROM room_nights") == [(0,)]


def test_a_year_of_nights_starting_today_is_accepted(client: FlaskClient, room_type: Json) -> None:
    response = client.put(nights_url(room_type), json=nights_body(start=today(), nights=366, rooms=0), headers=OWNER)
    assert (response.status_code, len(response.json["items"])) == (200, 366)


def test_setting_nights_needs_the_owning_owner(client: FlaskClient, database_url: str, room_type: Json) -> None:
    assert client.put(nights_url(room_type), json=nights_body(), headers=RIVAL).status_code == 404
    assert client.put(f"/v1/room-types/{uuid.uuid4()}/nights", json=nights_body(), headers=OWNER).status_code == 404
    assert client.put(nights_url(room_type), json=nights_body(), headers=ADMIN).status_code == 403
    assert client.put(nights_url(room_type), json=nights_body()).status_code == 401
    assert sql(database_url, "SELECT count(*) FROM room_nights") == [(0,)]


def test_reading_nights_lists_only_nights_that_were_set(client: FlaskClient, room_type: Json) -> None:
    client.put(nights_url(room_type), json=nights_body(START + timedelta(days=2), nights=2), headers=OWNER)
    query = {"from": night(0), "to": night(10)}
    response = client.get(nights_url(room_type), query_string=query, headers=OWNER)
    assert [n["night"] for n in response.json["items"]] == [night(2), night(3)]
    assert client.get(nights_url(room_type), query_string=query, headers=ADMIN).json == response.json
    empty = client.get(nights_url(room_type), query_string={"from": night(4), "to": night(5)}, headers=OWNER)
    assert empty.json == {"items": []}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-12-05"}, "from"),
        ({"from": "2026-12-05"}, "to"),
        ({"from": "tomorrow", "to": "2026-12-05"}, "from"),
        ({"from": "2026-12-05", "to": "2026-12-05"}, "to"),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to"),
        ({"from": "2026-01-01", "to": "2027-01-03"}, "to"),
    ],
)
def test_invalid_night_queries_are_400(client: FlaskClient, room_type: Json, query: dict[str, str], field: str) -> None:
    assert fields(client.get(nights_url(room_type), query_string=query, headers=OWNER)) == [field]


def test_reading_nights_needs_the_owning_owner_or_an_admin(client: FlaskClient, room_type: Json) -> None:
    query = {"from": night(0), "to": night(1)}
    assert client.get(nights_url(room_type), query_string=query, headers=RIVAL).status_code == 404
    assert client.get(f"/v1/room-types/{uuid.uuid4()}/nights", query_string=query, headers=OWNER).status_code == 404
    assert client.get(nights_url(room_type), query_string=query, headers=bearer("c", "customer")).status_code == 403
    assert client.get(nights_url(room_type), query_string=query).status_code == 401


def test_hotel_routes_are_published_in_openapi(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths["/v1/hotels"]) == {"post"}
    assert set(paths["/v1/hotels/{hotel_id}"]) == {"get", "patch"}
    assert set(paths["/v1/hotels/{hotel_id}/room-types"]) == {"post"}
    assert set(paths["/v1/room-types/{room_type_id}"]) == {"get"}
    assert set(paths["/v1/room-types/{room_type_id}/nights"]) == {"get", "put"}
    assert "omitted" in paths["/v1/room-types/{room_type_id}/nights"]["get"]["summary"]
    assert "409" in paths["/v1/room-types/{room_type_id}/nights"]["put"]["responses"]
