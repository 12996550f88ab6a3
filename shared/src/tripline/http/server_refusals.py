"""Gunicorn's own refusals, answered as problem details like everything else the platform says.

Gunicorn refuses some requests before the app sees them (a request line or header field longer than it reads,
too many headers, a malformed request line) and answers those in HTML of its own, through
``gunicorn.util.write_error``. Its workers call that function by module attribute, so putting ``write_problem`` in
its place, once per worker, is all it takes.
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus

from gunicorn import util

from tripline.http.problems import PROBLEM_CONTENT_TYPE, Problem

# What gunicorn refuses (gunicorn.workers.base.Worker.handle_error), in our words: its own message may quote the
# request, so it is never sent back. Codes as RFC 9110 names the statuses, whatever Python's version calls them.
_REFUSALS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Bad request", "The request could not be read."),
    403: ("forbidden", "Forbidden", "The request is not allowed."),
    414: ("uri_too_long", "URI too long", "The request line is longer than this server reads."),
    417: ("expectation_failed", "Expectation failed", "The Expect header cannot be met."),
    431: (
        "request_header_fields_too_large",
        "Request header fields too large",
        "The request's header fields are larger, or more, than this server reads.",
    ),
    501: ("not_implemented", "Not implemented", "The request uses a transfer coding this server does not read."),
}
_FAULT = ("internal_error", "Internal server error", "An unexpected error occurred.")


def answer_refusals_as_problems() -> None:
    """From now on, gunicorn's own refusals in this process are problem details."""
    util.write_error = write_problem


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature; ``reason`` and ``mesg`` are gunicorn's words, not sent."""
    util.write_nonblock(sock, problem_response(status_int))


def problem_response(status: int) -> bytes:
    """A whole HTTP/1.1 response carrying the problem for ``status``; the connection closes after it."""
    code, title, detail = _REFUSALS.get(status, _FAULT)
    body = json.dumps(Problem(status, code, title, detail).body()).encode()
    head = (
        f"HTTP/1.1 {status} {_phrase(status)}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
