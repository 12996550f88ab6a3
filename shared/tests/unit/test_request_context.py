"""Request ids, W3C trace context and the JSON access log."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
import structlog
from flask import Flask, g
from hypothesis import given
from hypothesis import strategies as st

from tripline.auth.access import install_auth, requires_role
from tripline.auth.tokens import Role, TokenVerifier, issue_dev_token
from tripline.http.problems import install_problem_handlers, not_found
from tripline.http.request_context import current_trace_context, install_request_context
from tripline.logging import configure_logging
from tripline.settings import AuthSettings
from tripline.tracing import (
    TraceContext,
    child_traceparent,
    current_trace,
    new_traceparent,
    parse_traceparent,
)

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
AUTH = AuthSettings(secret="s" * 40, issuer="tripline-dev", audience="tripline")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def make_app() -> Flask:
    app = Flask("context-test")
    install_problem_handlers(app)
    install_request_context(app, "bookings")
    install_auth(app, TokenVerifier(AUTH))

    @app.get("/context")
    def context() -> dict[str, Any]:
        trace = current_trace()
        assert trace is current_trace_context()
        return {
            "request_id": g.request_id,
            "traceparent": str(trace),
            "logged": structlog.contextvars.get_contextvars(),
        }

    @app.get("/missing")
    def missing() -> NoReturn:
        raise not_found("booking")

    @app.get("/mine")
    @requires_role(Role.CUSTOMER)
    def mine() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.mark.parametrize("request_id", ["abc", "req.1:2_3-4", "a" * 128, "0b7d8a4e-2f55-4d57-9f0b-3c0b1c2f1e11"])
def test_valid_request_id_is_kept_and_echoed(request_id: str) -> None:
    response = make_app().test_client().get("/context", headers={"X-Request-ID": request_id})

    assert response.headers["X-Request-ID"] == request_id
    assert response.get_json()["request_id"] == request_id
    assert response.get_json()["logged"]["request_id"] == request_id


@pytest.mark.parametrize("request_id", ["", "a" * 129, "has space", 'quote"', "tab\there", "path/like", "ünï"])
def test_invalid_request_id_is_replaced_by_a_uuid(request_id: str) -> None:
    response = make_app().test_client().get("/context", headers={"X-Request-ID": request_id})

    assert UUID4.fullmatch(response.headers["X-Request-ID"])


def test_request_id_is_generated_when_absent_and_differs_per_request() -> None:
    client = make_app().test_client()

    first = client.get("/context").headers["X-Request-ID"]
    second = client.get("/context").headers["X-Request-ID"]

    assert UUID4.fullmatch(first)
    assert first != second


def test_problem_responses_carry_the_request_id_too() -> None:
    client = make_app().test_client()

    for path in ("/missing", "/nowhere", "/mine"):
        response = client.get(path, headers={"X-Request-ID": "req-7"})
        assert response.headers["X-Request-ID"] == "req-7"
        assert response.get_json(force=True)["request_id"] == "req-7"


def test_incoming_traceparent_continues_the_trace_with_a_new_span() -> None:
    response = make_app().test_client().get("/context", headers={"traceparent": VALID})

    ours = parse_traceparent(response.get_json()["traceparent"])
    assert ours is not None
    assert ours.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ours.span_id != "00f067aa0ba902b7"
    assert response.get_json()["logged"]["trace_id"] == ours.trace_id


def test_invalid_traceparent_starts_a_new_trace() -> None:
    response = make_app().test_client().get("/context", headers={"traceparent": "garbage"})

    ours = parse_traceparent(response.get_json()["traceparent"])
    assert ours is not None
    assert ours.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"


def test_context_does_not_leak_past_the_request() -> None:
    make_app().test_client().get("/context", headers={"X-Request-ID": "req-9"})

    assert current_trace() is None
    assert structlog.contextvars.get_contextvars() == {}


def access_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [line for line in lines if line["event"] == "http_request"]


def test_one_json_access_line_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("bookings")
    client = make_app().test_client()

    client.get("/missing?q=1", headers={"X-Request-ID": "req-1", "User-Agent": "pytest"})

    (line,) = access_lines(capsys.readouterr().out)
    assert line["method"] == "GET"
    assert line["path"] == "/missing"
    assert line["status"] == 404
    assert line["request_id"] == "req-1"
    assert line["service"] == "bookings"
    assert line["user_agent"] == "pytest"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    assert isinstance(line["duration_ms"], float)
    assert "traceparent" in line


def test_access_line_names_the_caller_but_never_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("bookings")
    token = issue_dev_token("alice", "customer", settings=AUTH)

    make_app().test_client().get("/mine", headers={"Authorization": f"Bearer {token}"})

    output = capsys.readouterr().out
    (line,) = access_lines(output)
    assert line["sub"] == "alice"
    assert line["status"] == 200
    assert token not in output
    assert "Authorization" not in output


def test_configure_logging_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("bookings")
    configure_logging("bookings", level="debug")

    logging.getLogger("gunicorn.error").info("Booting worker")

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["logger"] == "gunicorn.error"


def test_lines_logged_from_many_threads_at_once_come_out_whole(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("search")
    log = structlog.get_logger("tripline.test")

    def log_lines(thread: int) -> None:
        for n in range(200):
            log.info("something_happened", thread=thread, n=n, padding="x" * 500)

    threads = [threading.Thread(target=log_lines, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((line["thread"], line["n"]) for line in lines) == [(t, n) for t in range(8) for n in range(200)]


def test_configure_logging_rejects_unknown_levels() -> None:
    with pytest.raises(ValueError, match="loud"):
        configure_logging("bookings", level="loud")


def test_parses_a_valid_traceparent() -> None:
    assert parse_traceparent(VALID) == TraceContext(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7", flags="01"
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is forbidden
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version not hex
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        VALID + "-extra",  # version 00 has exactly four fields
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  # future version, bad suffix
    ],
)
def test_rejects_invalid_traceparents(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_future_versions_are_read_for_the_fields_we_know() -> None:
    value = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next"

    parsed = parse_traceparent(value)

    assert parsed is not None
    assert parsed.traceparent == VALID


def test_new_and_child_spans() -> None:
    root = new_traceparent()
    child = child_traceparent(root)

    assert parse_traceparent(root.traceparent) == root
    assert child.trace_id == root.trace_id
    assert child.span_id != root.span_id
    assert child.flags == root.flags


hex_ids = st.integers(min_value=1, max_value=2**128 - 1).map(lambda n: f"{n:032x}")
span_ids = st.integers(min_value=1, max_value=2**64 - 1).map(lambda n: f"{n:016x}")
flags = st.integers(min_value=0, max_value=255).map(lambda n: f"{n:02x}")


@given(hex_ids, span_ids, flags)
def test_traceparent_round_trips(trace_id: str, span_id: str, flag: str) -> None:
    context = TraceContext(trace_id=trace_id, span_id=span_id, flags=flag)

    assert parse_traceparent(str(context)) == context
    assert child_traceparent(context).trace_id == trace_id
