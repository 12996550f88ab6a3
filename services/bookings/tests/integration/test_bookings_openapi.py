"""Every Bookings endpoint of the public contract is published in the service's OpenAPI document, as it behaves.

The document lists each path and method with what it accepts (body, query, headers) and every answer it gives, and
the bodies the service really sends validate against the schemas it publishes.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tripline.http.openapi import undocumented_rules
from tripline.testing import bearer

from ..saga_desk import SagaDesk, bus_item, hotel_item

ASHA = bearer("cust-asha", "customer")
ADMIN = bearer("ops", "admin")
BOOKING = "/v1/bookings/{booking_id}"
# (method, path): (request body schema, success status and its schema)
CONTRACT: dict[tuple[str, str], tuple[str | None, str, str | None]] = {
    ("post", "/v1/bookings"): ("NewBooking", "202", "Booking"),
    ("get", "/v1/bookings"): (None, "200", "BookingPage"),
    ("get", BOOKING): (None, "200", "Booking"),
    ("get", f"{BOOKING}/history"): (None, "200", "History"),
    ("post", f"{BOOKING}/pay"): ("PaymentChoice", "202", "Booking"),
    ("post", f"{BOOKING}/cancel"): ("CancelRequest", "202", "Booking"),
    ("delete", BOOKING): (None, "204", None),
    ("post", f"{BOOKING}/retry"): (None, "202", "Booking"),
    ("post", f"{BOOKING}/abandon"): (None, "202", "Booking"),
}
IDEMPOTENT = {("post", "/v1/bookings"), ("post", f"{BOOKING}/pay"), ("post", f"{BOOKING}/cancel")}
# Operators' probe of the messaging path: on bookings' own port only, never routed through the gateway.
INTERNAL_RULES = frozenset({"/admin/messaging-probes", "/admin/messaging-probes/<uuid:probe_id>"})
STATUSES = [
    "pending",
    "reserved",
    "payment_pending",
    "confirming",
    "confirmed",
    "completed",
    "cancelling",
    "cancelled",
    "expired",
    "failed",
]


def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in doc["paths"].items() for method, operation in item.items()}


def schema_name(reference: dict[str, Any]) -> str:
    return str(reference["$ref"]).removeprefix("#/components/schemas/")


def errors_against(doc: dict[str, Any], component: str, instance: Any) -> list[str]:
    """Why ``instance`` is not valid against the published component (its ``$ref``s resolved in the document)."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


def assert_matches_schema(doc: dict[str, Any], component: str, instance: Any) -> None:
    assert errors_against(doc, component, instance) == [], component


def parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", ()) if p["in"] == where}


def test_the_document_is_valid_openapi_3_1_and_documents_every_booking_operation(
    app: Flask, client: FlaskClient
) -> None:
    doc = document(client)

    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert {key for key in operations(doc) if key[1].startswith("/v1/bookings")} == set(CONTRACT)
    assert undocumented_rules(app, allowed=INTERNAL_RULES) == []


def test_every_operation_declares_its_body_and_its_answers(client: FlaskClient) -> None:
    found = operations(document(client))

    for (method, path), (body, success, answer) in CONTRACT.items():
        operation, where = found[(method, path)], f"{method} {path}"
        request_body = operation.get("requestBody")
        if body is None:
            assert request_body is None, where
        else:
            assert request_body["required"] is True, where
            assert schema_name(request_body["content"]["application/json"]["schema"]) == body, where
        answered = operation["responses"][success]
        if answer is None:
            assert "content" not in answered, where
        else:
            assert schema_name(answered["content"]["application/json"]["schema"]) == answer, where
        assert [code for code in operation["responses"] if code < "300"] == [success], where


def test_every_operation_declares_its_auth_its_key_and_its_errors(client: FlaskClient) -> None:
    for (method, path), operation in operations(document(client)).items():
        where, codes = f"{method} {path}", set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}], where
        assert operation["tags"] == ["bookings"], where
        assert {"401", "403"} <= codes, where
        assert list(parameters(operation, "header")) == (["Idempotency-Key"] if (method, path) in IDEMPOTENT else [])
        if (method, path) in IDEMPOTENT:
            assert {"400", "409", "413", "415", "422"} <= codes, where
        if "{booking_id}" in path:
            assert parameters(operation, "path")["booking_id"]["schema"] == {"type": "string", "format": "uuid"}
            assert "404" in codes, where
        for code, answer in operation["responses"].items():
            if code >= "400":
                assert schema_name(answer["content"]["application/problem+json"]["schema"]) == "Problem", where
    found = operations(document(client))
    assert {"409"} <= set(found[("delete", BOOKING)]["responses"])
    assert {"409"} <= set(found[("post", f"{BOOKING}/retry")]["responses"])


def test_the_query_parameters_and_their_limits_are_published(client: FlaskClient) -> None:
    doc = document(client)
    found = operations(doc)

    wait = parameters(found[("get", BOOKING)], "query")["wait"]["schema"]
    listing = parameters(found[("get", "/v1/bookings")], "query")

    assert (wait["minimum"], wait["maximum"]) == (0, 30)
    assert set(listing) == {"limit", "cursor", "status", "customer_id", "include_deleted", "stuck"}
    assert not any(parameter["required"] for parameter in listing.values())
    limit = listing["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)
    assert doc["components"]["schemas"]["Status"]["enum"] == STATUSES
    items = doc["components"]["schemas"]["NewBooking"]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, 5)


def test_the_request_schemas_accept_the_contracts_example_and_refuse_what_the_service_refuses(
    client: FlaskClient,
) -> None:
    doc = document(client)
    example: dict[str, Any] = {
        "items": [
            {
                "type": "bus_seats",
                "schedule_id": str(uuid.uuid4()),
                "seats": ["1A", "1B"],
                "passengers": [{"name": "Asha", "age": 31}, {"name": "Ravi", "age": 33}],
            },
            {
                "type": "hotel_rooms",
                "room_type_id": str(uuid.uuid4()),
                "check_in": "2026-12-01",
                "check_out": "2026-12-03",
                "rooms": 1,
                "guests": 2,
            },
        ],
        "payment": {"method": "wallet"},
    }

    assert_matches_schema(doc, "NewBooking", example)
    assert_matches_schema(doc, "NewBooking", {"items": example["items"][1:]})
    assert_matches_schema(doc, "PaymentChoice", {"method": "wallet"})
    assert_matches_schema(doc, "CancelRequest", {"reason": "plans changed"})
    assert errors_against(doc, "NewBooking", {**example, "coupon": "FREE"})
    assert errors_against(doc, "NewBooking", {"items": []})
    assert errors_against(doc, "NewBooking", {"items": example["items"] * 3})
    assert errors_against(doc, "NewBooking", {**example, "payment": {"method": "card"}})
    assert errors_against(doc, "NewBooking", {"items": [{**example["items"][1], "type": "train_berths"}]})
    assert errors_against(doc, "CancelRequest", {"reason": "x" * 501})


def test_the_published_schemas_describe_the_bodies_the_service_really_sends(
    client: FlaskClient, desk: SagaDesk
) -> None:
    doc = document(client)
    body = {"items": [bus_item(("1A", "1B")), hotel_item()], "payment": {"method": "wallet"}}
    booked = client.post("/v1/bookings", json=body, headers={**ASHA, "Idempotency-Key": "k"})
    booking_id = uuid.UUID(booked.json["id"])
    desk.reserved(booking_id)
    desk.declined(booking_id)
    declined = client.get(f"/v1/bookings/{booking_id}", headers=ASHA)
    cancelled = client.post(
        f"/v1/bookings/{booking_id}/cancel", json={"reason": "plans changed"}, headers={**ASHA, "Idempotency-Key": "c"}
    )
    client.delete(f"/v1/bookings/{booking_id}", headers=ADMIN)

    assert_matches_schema(doc, "Booking", booked.json)
    assert_matches_schema(doc, "Booking", declined.json)
    assert_matches_schema(doc, "Booking", cancelled.json)
    assert_matches_schema(doc, "Booking", client.get(f"/v1/bookings/{booking_id}", headers=ADMIN).json)
    assert_matches_schema(doc, "History", client.get(f"/v1/bookings/{booking_id}/history", headers=ADMIN).json)
    assert_matches_schema(doc, "BookingPage", client.get("/v1/bookings?include_deleted=true", headers=ADMIN).json)
    assert_matches_schema(doc, "BookingPage", client.get("/v1/bookings?limit=1", headers=ASHA).json)
    assert declined.json["failure"]["code"] == "insufficient_funds"
    assert client.get(f"/v1/bookings/{booking_id}", headers=ADMIN).json["deleted_at"] is not None
    for problem in (
        client.post("/v1/bookings", json={"items": []}, headers={**ASHA, "Idempotency-Key": "bad"}),
        client.get(f"/v1/bookings/{uuid.uuid4()}", headers=ASHA),
        client.post(f"/v1/bookings/{booking_id}/retry", headers=ADMIN),
        client.get("/v1/bookings"),
    ):
        assert problem.status_code >= 400
        assert_matches_schema(doc, "Problem", problem.json)


def test_the_history_is_published_with_the_member_names_it_is_sent_with(client: FlaskClient) -> None:
    """``from`` is a Python keyword, so the model spells it otherwise; the document must say ``from``."""
    transition = document(client)["components"]["schemas"]["Transition"]

    assert set(transition["properties"]) == {"from", "to", "at", "reason"}
    assert set(transition["required"]) == {"from", "to", "at", "reason"}
