"""Search's OpenAPI document publishes both searches as they behave: no token, their query parameters with their
limits, and result schemas that the bodies search really sends validate against."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tripline.http.openapi import undocumented_rules

from ..supply import ReadModel, hotel, nights, operator, owner, room, schedule, soon

SEARCHES = {"/v1/search/buses": "TripPage", "/v1/search/hotels": "HotelPage"}


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def _query(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", ()) if p["in"] == "query"}


def _errors(doc: dict[str, Any], component: str, instance: Any) -> list[str]:
    schema = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


def test_the_document_is_valid_and_documents_both_searches_for_anyone(client: FlaskClient, app: Flask) -> None:
    doc = _document(client)

    validate(doc)
    assert undocumented_rules(app) == []
    assert "security" not in doc
    for path, page in SEARCHES.items():
        operation = doc["paths"][path]["get"]
        assert "security" not in operation, path  # no token needed, and no global requirement either
        assert "401" not in operation["responses"], path
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{page}"}
        assert "400" in operation["responses"]


def test_the_query_parameters_and_their_limits_are_published(client: FlaskClient) -> None:
    doc = _document(client)
    buses = _query(doc["paths"]["/v1/search/buses"]["get"])
    hotels = _query(doc["paths"]["/v1/search/hotels"]["get"])

    assert {name for name, p in buses.items() if p.get("required")} == {"origin", "destination", "date"}
    assert set(buses) >= {"seats", "sort", "max_fare_minor", "bus_type", "limit", "cursor"}
    assert buses["sort"]["schema"]["enum"] == ["departure", "price", "duration"]
    assert {name for name, p in hotels.items() if p.get("required")} == {"city", "check_in", "check_out"}
    assert set(hotels) >= {"rooms", "guests", "sort", "min_stars", "max_price_minor", "amenities", "limit", "cursor"}
    assert hotels["sort"]["schema"]["enum"] == ["price", "stars"]


def test_the_bodies_search_sends_validate_against_the_published_schemas(
    read_model: ReadModel, client: FlaskClient
) -> None:
    operator_id, owner_id, hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        operator(operator_id),
        *(schedule(uuid.uuid4(), operator_id, departs_at=soon(2, hour=6 + n)) for n in range(3)),
        owner(owner_id),
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        nights(room_type_id, hotel_id, soon(2).date(), 3),
    )
    check_in = soon(2).date()
    answers = {
        "TripPage": client.get(
            "/v1/search/buses", query_string={"origin": "Mumbai", "destination": "Goa", "date": check_in, "limit": 2}
        ).json,
        "HotelPage": client.get(
            "/v1/search/hotels",
            query_string={"city": "Goa", "check_in": check_in, "check_out": check_in + timedelta(days=2)},
        ).json,
    }
    doc = _document(client)

    assert answers["TripPage"]["next_cursor"] is not None
    assert len(answers["HotelPage"]["items"]) == 1
    for component, body in answers.items():
        assert _errors(doc, component, body) == [], component
