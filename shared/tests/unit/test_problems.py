"""Problem details: every error the HTTP layer produces is RFC 9457 problem+json, never a trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import psycopg
import pytest
import structlog
from flask import Flask, abort
from pydantic import BaseModel
from werkzeug.test import TestResponse

from tripline.http.problems import (
    PROBLEM_CONTENT_TYPE,
    FieldError,
    Problem,
    conflict,
    forbidden,
    idempotency_key_in_use,
    idempotency_key_missing,
    idempotency_key_reused,
    install_problem_handlers,
    internal_error,
    malformed_json,
    not_found,
    payload_too_large,
    unauthorized,
    unsupported_media_type,
    validation_failed,
)
from tripline.http.request_context import install_request_context

CONSTRUCTORS: list[tuple[Callable[[], Problem], int, str]] = [
    (lambda: validation_failed([FieldError("items[0].seats", "Field required")]), 400, "validation_failed"),
    (malformed_json, 400, "malformed_json"),
    (lambda: unauthorized("The token has expired."), 401, "unauthorized"),
    (forbidden, 403, "forbidden"),
    (lambda: not_found("booking"), 404, "not_found"),
    (lambda: conflict("invalid_transition", "Cannot approve a suspended operator."), 409, "invalid_transition"),
    (idempotency_key_missing, 400, "idempotency_key_missing"),
    (idempotency_key_reused, 422, "idempotency_key_reused"),
    (lambda: idempotency_key_in_use(3), 409, "idempotency_key_in_use"),
    (payload_too_large, 413, "payload_too_large"),
    (unsupported_media_type, 415, "unsupported_media_type"),
    (internal_error, 500, "internal_error"),
]


class Seats(BaseModel):
    count: int


def make_app() -> Flask:
    app = Flask("problems-test")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    install_problem_handlers(app)
    install_request_context(app, "test")

    @app.get("/things/<uuid:thing_id>")
    def read_thing(thing_id: str) -> dict[str, str]:
        raise not_found("thing")

    @app.post("/things")
    def create_thing() -> dict[str, int]:
        return {"size": len(__import__("flask").request.get_data())}

    @app.get("/failing")
    def boom() -> NoReturn:
        raise RuntimeError("SELECT secret FROM bookings_internal WHERE id = 42")

    @app.get("/pydantic")
    def escaped_validation_error() -> NoReturn:
        Seats.model_validate({"count": "many"})
        raise AssertionError("unreachable")

    @app.get("/busy")
    def busy() -> NoReturn:
        raise idempotency_key_in_use(7)

    @app.get("/unavailable")
    def unavailable() -> NoReturn:
        abort(503)

    @app.get("/database-away")
    def database_away() -> NoReturn:
        raise psycopg.OperationalError("connection to server at 127.0.0.1 failed: FATAL: database is not accepting")

    return app


def assert_problem(response: TestResponse, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.mimetype == PROBLEM_CONTENT_TYPE
    body = response.get_json(force=True)
    assert body["type"] == f"urn:tripline:problem:{code}"
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return dict(body)


@pytest.mark.parametrize(("make", "status", "code"), CONSTRUCTORS)
def test_every_constructor_builds_a_complete_problem(make: Callable[[], Problem], status: int, code: str) -> None:
    problem = make()
    body = problem.body(instance="/v1/things", request_id="req-1")

    assert (problem.status, problem.code) == (status, code)
    assert body["type"] == f"urn:tripline:problem:{code}"
    assert {"type", "title", "status", "detail", "code", "instance", "request_id"} <= body.keys()
    assert body["instance"] == "/v1/things"
    assert body["request_id"] == "req-1"
    assert ("errors" in body) == (code == "validation_failed")


@pytest.mark.parametrize(("make", "status", "code"), CONSTRUCTORS)
def test_every_constructor_renders_as_problem_json(make: Callable[[], Problem], status: int, code: str) -> None:
    app = Flask("render")
    with app.test_request_context("/v1/things"):
        response = make().to_response()

    assert response.status_code == status
    assert response.mimetype == PROBLEM_CONTENT_TYPE
    assert response.get_json(force=True)["instance"] == "/v1/things"


def test_validation_errors_are_listed_by_field() -> None:
    body = validation_failed([FieldError("items[0].seats", "Field required")]).body()

    assert body["errors"] == [{"field": "items[0].seats", "message": "Field required"}]


def test_unauthorized_challenges_for_a_bearer_token() -> None:
    assert unauthorized("missing").headers == {"WWW-Authenticate": "Bearer"}
    assert unauthorized("expired", invalid_token=True).headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def test_key_in_use_says_when_to_retry() -> None:
    assert idempotency_key_in_use(12).headers == {"Retry-After": "12"}
    assert idempotency_key_in_use(0).headers == {"Retry-After": "1"}


def test_extra_members_are_added_but_cannot_replace_standard_ones() -> None:
    problem = Problem(409, "booking_expired", "Conflict", "Too late.", extra={"expires_at": "2026-12-01T08:30:00Z"})

    assert problem.body()["expires_at"] == "2026-12-01T08:30:00Z"
    with pytest.raises(ValueError, match="status"):
        Problem(409, "x", "Conflict", "Too late.", extra={"status": 200})


def test_unknown_path_is_a_not_found_problem_with_instance_and_request_id() -> None:
    response = make_app().test_client().get("/nowhere", headers={"X-Request-ID": "req-404"})

    body = assert_problem(response, 404, "not_found")
    assert body["instance"] == "/nowhere"
    assert body["request_id"] == "req-404"
    assert response.headers["X-Request-ID"] == "req-404"


def test_problem_raised_by_a_view_keeps_its_code() -> None:
    response = make_app().test_client().get("/things/0b7d8a4e-2f55-4d57-9f0b-3c0b1c2f1e11")

    body = assert_problem(response, 404, "not_found")
    assert body["detail"] == "The thing does not exist."


def test_wrong_method_is_405_and_keeps_the_allow_header() -> None:
    response = make_app().test_client().delete("/things")

    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_body_over_64_kib_is_413() -> None:
    response = make_app().test_client().post("/things", data=b"x" * (64 * 1024 + 1))

    assert_problem(response, 413, "payload_too_large")


def test_body_at_the_limit_is_accepted() -> None:
    response = make_app().test_client().post("/things", data=b"x" * (64 * 1024))

    assert response.status_code == 200


def test_problem_headers_reach_the_client() -> None:
    response = make_app().test_client().get("/busy")

    assert_problem(response, 409, "idempotency_key_in_use")
    assert response.headers["Retry-After"] == "7"


def test_pydantic_error_escaping_a_view_is_the_servers_fault_not_the_clients() -> None:
    # Input is validated by parse_body and parse_query; anything else pydantic refuses is a response the server
    # failed to build, and calling it a 400 would send the client hunting for a mistake it did not make.
    response = make_app().test_client().get("/pydantic")

    body = assert_problem(response, 500, "internal_error")
    assert "count" not in str(body)


def test_deliberate_5xx_keeps_its_status() -> None:
    response = make_app().test_client().get("/unavailable")

    assert_problem(response, 503, "service_unavailable")


def test_a_database_out_of_reach_is_a_503_to_retry_without_internals() -> None:
    response = make_app().test_client().get("/database-away")

    assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_unexpected_exception_is_a_generic_500_without_internals() -> None:
    with structlog.testing.capture_logs() as logs:
        response = make_app().test_client().get("/failing", headers={"X-Request-ID": "req-500"})

    body = assert_problem(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "SELECT", "bookings_internal", "RuntimeError", "boom"):
        assert leak not in text
    assert body["request_id"] == "req-500"
    logged = [entry for entry in logs if entry["event"] == "unhandled_exception"]
    assert len(logged) == 1
    assert isinstance(logged[0]["exc_info"], RuntimeError)
