"""Every Inventory endpoint of the public contract is published in the service's OpenAPI document."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate

CONTRACT = {
    ("post", "/v1/operators"),
    ("get", "/v1/operators"),
    ("get", "/v1/operators/{id}"),
    ("post", "/v1/operators/{id}/approve"),
    ("post", "/v1/operators/{id}/reject"),
    ("post", "/v1/operators/{id}/suspend"),
    ("post", "/v1/property-owners"),
    ("get", "/v1/property-owners"),
    ("get", "/v1/property-owners/{id}"),
    ("post", "/v1/property-owners/{id}/approve"),
    ("post", "/v1/property-owners/{id}/reject"),
    ("post", "/v1/property-owners/{id}/suspend"),
    ("post", "/v1/buses"),
    ("get", "/v1/buses/{id}"),
    ("post", "/v1/schedules"),
    ("get", "/v1/schedules/{id}"),
    ("post", "/v1/schedules/{id}/cancel"),
    ("post", "/v1/hotels"),
    ("get", "/v1/hotels/{id}"),
    ("patch", "/v1/hotels/{id}"),
    ("post", "/v1/hotels/{id}/room-types"),
    ("put", "/v1/room-types/{id}/nights"),
    ("get", "/v1/room-types/{id}/nights"),
}


def _operations(document: dict[str, dict[str, dict[str, object]]]) -> set[tuple[str, str]]:
    # Path parameter names differ per route ({hotel_id}, {id}); the contract only fixes where they are.
    return {
        (method, "/".join("{id}" if part.startswith("{") else part for part in path.split("/")))
        for path, item in document["paths"].items()
        for method in item
    }


def test_the_document_is_valid_openapi_3_1_and_covers_the_contract(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()

    validate(document)
    assert document["openapi"] == "3.1.0"
    assert _operations(document) >= CONTRACT


def test_every_route_declares_its_errors(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()

    for path, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert "401" in codes, f"{method} {path}"
            if "{" in path:
                assert "404" in codes, f"{method} {path}"
