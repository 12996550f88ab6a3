"""The OpenAPI 3.1 document is generated from the views' own models and is structurally valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal, NoReturn
from uuid import UUID

import openapi_spec_validator
import pytest
from flask import Blueprint, Flask
from flask.views import MethodView

from tripline.auth.access import requires_role
from tripline.auth.tokens import Role
from tripline.http.openapi import build_openapi, documented, undocumented_rules
from tripline.http.validation import ApiModel, Money, PageQuery


class CreateBooking(ApiModel):
    schedule_id: UUID
    seats: list[str]
    payment: Literal["wallet"] | None = None


class Booking(ApiModel):
    id: UUID
    status: Literal["pending", "reserved", "confirmed"]
    total: Money


class BookingPage(ApiModel):
    items: list[Booking]
    next_cursor: str | None


class BookingsQuery(PageQuery):
    status: Literal["pending", "reserved", "confirmed"] | None = None


class TripSearch(ApiModel):
    origin: str
    destination: str


def make_app() -> Flask:
    app = Flask("openapi-test")
    bookings = Blueprint("bookings", __name__)

    @bookings.post("/v1/bookings")
    @documented(
        "Book seats",
        body=CreateBooking,
        responses={202: Booking},
        tags=("bookings",),
        idempotency_key=True,
    )
    @requires_role(Role.CUSTOMER)
    def create_booking() -> NoReturn:
        raise NotImplementedError

    @bookings.get("/v1/bookings/<uuid:booking_id>")
    @documented("Read a booking", responses={200: Booking, 404: None}, tags=("bookings",))
    def read_booking(booking_id: UUID) -> NoReturn:
        raise NotImplementedError

    @documented("Delete a booking", responses={204: None, 404: None})
    @bookings.delete("/v1/bookings/<uuid:booking_id>")
    def delete_booking(booking_id: UUID) -> NoReturn:
        raise NotImplementedError

    @bookings.get("/v1/bookings")
    @documented("List bookings", query=BookingsQuery, responses={200: BookingPage})
    def list_bookings() -> NoReturn:
        raise NotImplementedError

    @bookings.get("/v1/search/buses")
    @documented("Search trips", query=TripSearch, responses={200: BookingPage}, auth=False)
    def search() -> NoReturn:
        raise NotImplementedError

    @bookings.get("/v1/undocumented")
    def undocumented() -> NoReturn:
        raise NotImplementedError

    class Wallet(MethodView):
        @documented("Read my wallet", responses={200: Money})
        def get(self) -> NoReturn:
            raise NotImplementedError

    bookings.add_url_rule("/v1/wallets/me", view_func=Wallet.as_view("wallet"))

    @app.get("/healthz")
    def healthz() -> NoReturn:
        raise NotImplementedError

    app.register_blueprint(bookings)
    return app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_openapi(make_app(), title="Tripline bookings", version="1.2.3")


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def test_document_header(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Tripline bookings", "version": "1.2.3"}
    json.dumps(document)  # served as JSON as-is


def test_paths_use_braces_and_typed_path_parameters(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/bookings/{booking_id}"]["get"]

    assert operation["parameters"] == [
        {"name": "booking_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ]
    assert set(document["paths"]["/v1/bookings/{booking_id}"]) == {"get", "delete"}


def test_every_documented_route_is_published_and_nothing_else(document: dict[str, Any]) -> None:
    assert set(document["paths"]) == {
        "/v1/bookings",
        "/v1/bookings/{booking_id}",
        "/v1/search/buses",
        "/v1/wallets/me",
    }
    assert undocumented_rules(make_app()) == ["GET /v1/undocumented"]


def test_models_become_components_with_the_problem_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    assert {"CreateBooking", "Booking", "BookingPage", "Money", "Problem"} <= set(schemas)
    assert schemas["CreateBooking"]["additionalProperties"] is False
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail", "code"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    for ref in refs_in(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas


def test_request_body_and_success_response(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/bookings"]["post"]

    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateBooking"
    }
    assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Booking"
    }
    assert operation["tags"] == ["bookings"]


def test_errors_are_problem_json(document: dict[str, Any]) -> None:
    responses = document["paths"]["/v1/bookings"]["post"]["responses"]

    assert {"400", "401", "403", "409", "413", "415", "422"} <= set(responses)
    assert responses["401"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


def test_idempotent_operations_document_the_header(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/v1/bookings"]["post"]["parameters"]

    assert {"name": "Idempotency-Key", "in": "header", "required": True}.items() <= parameters[0].items()


def test_query_models_become_parameters_not_components(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/v1/bookings"]["get"]["parameters"]}

    assert set(parameters) == {"limit", "cursor", "status"}
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert "BookingsQuery" not in document["components"]["schemas"]
    search = document["paths"]["/v1/search/buses"]["get"]["parameters"]
    assert {p["name"] for p in search if p["required"]} == {"origin", "destination"}


def test_bearer_auth_only_where_required(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["paths"]["/v1/bookings"]["get"]["security"] == [{"bearerAuth": []}]
    search = document["paths"]["/v1/search/buses"]["get"]
    assert "security" not in search
    assert "401" not in search["responses"]


def test_no_content_response_has_no_body(document: dict[str, Any]) -> None:
    assert document["paths"]["/v1/bookings/{booking_id}"]["delete"]["responses"]["204"] == {"description": "No Content"}


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]

    assert len(ids) == len(set(ids))


def test_passes_the_openapi_31_validator(document: dict[str, Any]) -> None:
    openapi_spec_validator.validate(document)
