"""Bodies no client should send: nested past any parser, or streamed past the limit. Each a problem, never a fault."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, request
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tripline.auth.access import requires_role
from tripline.db import new_metadata
from tripline.http.app import MAX_BODY_BYTES, create_service_app
from tripline.http.problems import install_problem_handlers
from tripline.http.validation import ApiModel, parse_body
from tripline.plumbing import define_plumbing_tables
from tripline.settings import ServiceSettings


class Note(ApiModel):
    note: Any = None


def parsing_app() -> Flask:
    app = Flask("unreadable-bodies-test")
    install_problem_handlers(app)

    @app.post("/notes")
    def take_note() -> dict[str, Any]:
        return parse_body(Note).model_dump()

    return app


def post_note(raw: str) -> tuple[int, dict[str, Any]]:
    response = parsing_app().test_client().post("/notes", data=raw, content_type="application/json")
    return response.status_code, response.get_json(force=True)


def nested(depth: int, innermost: str) -> str:
    return "[" * depth + innermost + "]" * depth


def test_a_body_nested_past_any_parser_with_a_nul_is_malformed_not_a_fault() -> None:
    # The NUL makes the body go through the standard library's parser too, which gives up far sooner than 30,000.
    status, problem = post_note('{"note": ' + nested(30_000, '"\\u0000"') + "}")

    assert (status, problem["code"]) == (400, "malformed_json")


def test_a_nul_deep_in_nested_arrays_is_named_not_a_fault() -> None:
    # Deep enough that walking the document by recursion would exhaust Python's stack, shallow enough to parse.
    status, problem = post_note('{"note": ' + nested(600, '"a\\u0000b"') + "}")

    assert (status, problem["code"]) == (400, "validation_failed")
    assert problem["errors"] == [{"field": "note" + "[0]" * 600, "message": "Text must not contain NUL characters"}]


def test_nuls_are_named_in_the_order_the_document_has_them() -> None:
    status, problem = post_note('{"note": {"a": "\\u0000", "b": [{"c": "ok", "d": "\\u0000"}], "e": ["x", "\\u0000"]}}')

    assert status == 400
    assert [error["field"] for error in problem["errors"]] == ["note.a", "note.b[0].d", "note.e[1]"]


# A body streamed without Content-Length (chunked): only the server knows where it ends -----------------------------


class ChunkedBody:
    """``wsgi.input`` as gunicorn gives a chunked body: only ``read``, and no length known up front."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


@pytest.fixture
def service_app(tmp_path: Path) -> Flask:
    """A service's app as every service builds it (nothing connects: the views below use no database)."""
    (tmp_path / "versions").mkdir()  # a migrations folder without migrations
    echo = Blueprint("echo", __name__)

    @echo.post("/echo")
    def size_of_body() -> dict[str, int]:
        return {"size": len(request.get_data())}

    @echo.post("/notes")
    def take_note() -> dict[str, Any]:
        return parse_body(Note).model_dump()

    @echo.post("/guarded")
    @requires_role()
    def answer_without_reading() -> dict[str, Any]:
        return {}

    return create_service_app(
        name="unreadable-bodies-test",
        version="0",
        settings=ServiceSettings(database_url="postgresql+psycopg://nobody@127.0.0.1:9/nothing"),  # type: ignore[arg-type]
        tables=define_plumbing_tables(new_metadata()),
        migrations_dir=tmp_path,
        blueprints=[echo],
    )


def stream(app: Flask, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    status, document, _ = streamed(app, path, body)
    return status, document


def streamed(
    app: Flask, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], Headers]:
    builder = EnvironBuilder(method="POST", path=path, content_type="application/json", headers=headers)
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)  # what makes it streamed
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input"] = ChunkedBody(body)
    environ["wsgi.input_terminated"] = True  # as gunicorn says of the chunked bodies it reads
    answer, status, answered_headers = run_wsgi_app(app, environ)
    return int(status.split()[0]), json.loads(b"".join(answer)), answered_headers


def test_a_streamed_body_past_the_limit_is_too_large_not_cut_short(service_app: Flask) -> None:
    status, problem = stream(service_app, "/echo", b"x" * (MAX_BODY_BYTES + 1))

    assert (status, problem["code"]) == (413, "payload_too_large")


def test_a_streamed_document_whose_first_64_kib_parse_is_still_too_large(service_app: Flask) -> None:
    # Cut at the limit, this body would be a valid document: it must be refused whole, not read in part.
    document = json.dumps({"note": "kept"}).encode()
    body = document + b" " * (MAX_BODY_BYTES - len(document)) + b'"tail"'

    status, problem = stream(service_app, "/notes", body)

    assert (status, problem["code"]) == (413, "payload_too_large")


def test_a_streamed_body_at_the_limit_is_read_whole(service_app: Flask) -> None:
    assert stream(service_app, "/echo", b"x" * MAX_BODY_BYTES) == (200, {"size": MAX_BODY_BYTES})


def test_a_streamed_body_past_the_limit_is_too_large_before_the_caller_is_asked_for(service_app: Flask) -> None:
    # The view would answer 401 without reading the body. Read first, the body's size decides, as it does at the
    # gateway, which can only refuse a streamed body while the service is still reading it.
    status, problem, headers = streamed(
        service_app, "/guarded", b"x" * (MAX_BODY_BYTES + 1), headers={"X-Request-ID": "upload-1"}
    )

    assert (status, problem["code"]) == (413, "payload_too_large")
    assert (problem["request_id"], headers["X-Request-ID"]) == ("upload-1", "upload-1")


def test_a_streamed_body_within_the_limit_still_needs_a_caller(service_app: Flask) -> None:
    status, problem = stream(service_app, "/guarded", b"x" * MAX_BODY_BYTES)

    assert (status, problem["code"]) == (401, "unauthorized")
