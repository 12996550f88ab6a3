"""RFC 9457 problem details: the one error format every Tripline endpoint answers with.

https://www.rfc-editor.org/rfc/rfc9457 — ``type`` is a stable URN per ``code`` so clients can switch
on either; ``title`` is fixed per code, ``detail`` explains this occurrence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, cast

import structlog
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from tripline.db import is_database_unreachable
from tripline.http.field_errors import FieldError
from tripline.http.request_context import current_request_id

__all__ = [  # FieldError is re-exported so callers build problems from this module alone
    "PROBLEM_CONTENT_TYPE",
    "TYPE_PREFIX",
    "FieldError",
    "Problem",
    "bad_request",
    "conflict",
    "forbidden",
    "idempotency_key_in_use",
    "idempotency_key_missing",
    "idempotency_key_reused",
    "install_problem_handlers",
    "internal_error",
    "malformed_json",
    "not_found",
    "payload_too_large",
    "unauthorized",
    "unsupported_media_type",
    "validation_failed",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tripline:problem:"
_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "instance", "request_id", "errors"})
_log = structlog.get_logger("tripline.http.problems")


class Problem(Exception):
    """An error the client can act on, rendered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        clash = _RESERVED_MEMBERS.intersection(extra or {})
        if clash:
            raise ValueError(f"extra members would overwrite standard ones: {sorted(clash)}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @property
    def type(self) -> str:
        """The problem type URI, derived from the machine-readable code."""
        return TYPE_PREFIX + self.code

    def body(self, *, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        """The problem document as a JSON-ready dict."""
        document: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }
        if instance is not None:
            document["instance"] = instance
        if request_id is not None:
            document["request_id"] = request_id
        if self.errors:
            document["errors"] = [error.as_member() for error in self.errors]
        return document

    def to_response(self) -> Response:
        """The Flask response for this problem, in the current request's context."""
        document = self.body(instance=request.path, request_id=current_request_id())
        return Response(
            json.dumps(document, ensure_ascii=False),
            status=self.status,
            headers=self.headers,
            content_type=PROBLEM_CONTENT_TYPE,
        )


def bad_request(code: str, detail: str, errors: Sequence[FieldError] = ()) -> Problem:
    """A 400 with a specific code, for input that is well-formed but unacceptable."""
    return Problem(400, code, "Bad request", detail, errors=errors)


def validation_failed(errors: Sequence[FieldError]) -> Problem:
    """400: the body or query failed validation; ``errors`` says where and why."""
    return Problem(
        400,
        "validation_failed",
        "Invalid request",
        "The request has invalid fields; see errors.",
        errors=errors,
    )


def malformed_json() -> Problem:
    """400: the body is not valid JSON."""
    return Problem(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON.")


def unsupported_media_type() -> Problem:
    """415: a body was expected as ``application/json``."""
    return Problem(
        415,
        "unsupported_media_type",
        "Unsupported media type",
        "Send the request body as application/json.",
    )


def unauthorized(detail: str, *, invalid_token: bool = False) -> Problem:
    """401 with a ``WWW-Authenticate`` challenge (RFC 6750 §3)."""
    challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str = "Your role does not allow this action.") -> Problem:
    """403: authenticated, but the role is not allowed to do this."""
    return Problem(403, "forbidden", "Forbidden", detail)


def not_found(what: str = "resource") -> Problem:
    """404: unknown, or not yours (the two must be indistinguishable)."""
    return Problem(404, "not_found", "Not found", f"The {what} does not exist.")


def conflict(code: str, detail: str) -> Problem:
    """409: the request conflicts with the resource's current state."""
    return Problem(409, code, "Conflict", detail)


def idempotency_key_missing() -> Problem:
    """400: this endpoint needs an ``Idempotency-Key`` header."""
    return Problem(
        400,
        "idempotency_key_missing",
        "Idempotency key missing",
        "This request needs an Idempotency-Key header.",
    )


def idempotency_key_reused() -> Problem:
    """422: the key was already used for a different request."""
    return Problem(
        422,
        "idempotency_key_reused",
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request.",
    )


def idempotency_key_in_use(retry_after_seconds: int) -> Problem:
    """409 + ``Retry-After``: the first request with this key is still running."""
    return Problem(
        409,
        "idempotency_key_in_use",
        "Idempotency key in use",
        "A request with this Idempotency-Key is still in progress; retry later.",
        headers={"Retry-After": str(max(1, retry_after_seconds))},
    )


def payload_too_large() -> Problem:
    """413: the body exceeds the 64 KiB limit."""
    return Problem(413, "payload_too_large", "Payload too large", "The request body is larger than allowed.")


def service_unavailable() -> Problem:
    """503: a dependency the service cannot answer without is unavailable for now."""
    return Problem(
        503,
        "service_unavailable",
        "Service unavailable",
        "The service cannot reach its database right now; retry shortly.",
        headers={"Retry-After": "1"},
    )


def internal_error() -> Problem:
    """500 with a deliberately generic detail: the log has the traceback, the client the request id."""
    return Problem(
        500,
        "internal_error",
        "Internal server error",
        "An unexpected error occurred. Quote the request_id when reporting it.",
    )


Refusals = Mapping[type[Exception], Callable[[Any], Problem]]


def answer_refusals(blueprint: Blueprint, refusals: Refusals) -> None:
    """Whichever of ``blueprint``'s views raises one of these use-case refusals, the client gets its problem.

    Answered by the blueprint, outside ``@idempotent``'s view call, so the replay cache does not keep them.
    """
    for refusal, problem in refusals.items():
        blueprint.register_error_handler(refusal, _responder(problem))


def _responder(problem: Callable[[Any], Problem]) -> Callable[[Exception], Response]:
    def respond(error: Exception) -> Response:
        return problem(error).to_response()

    return respond


def install_problem_handlers(app: Flask) -> None:
    """Make every error the app can raise answer as problem+json.

    Input is validated by ``parse_body`` and ``parse_query``, which answer 400 themselves; a pydantic error that
    escapes a view is a response the server failed to build, so it is the 500 it is, never a 400.
    """
    app.register_error_handler(Problem, _render_problem)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)


def _render_problem(problem: Problem) -> Response:
    return problem.to_response()


# Our own words for the statuses Werkzeug raises by itself; its default descriptions are
# written for browsers ("If you entered the URL manually...").
_HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "There is nothing at this path."),
    405: ("method_not_allowed", "This method is not allowed on this path."),
    406: ("not_acceptable", "This endpoint only answers with JSON."),
    413: ("payload_too_large", "The request body is larger than allowed."),
    415: ("unsupported_media_type", "Send the request body as application/json."),
    429: ("too_many_requests", "Too many requests; slow down."),
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _render_http_exception(error: HTTPException) -> WerkzeugResponse:
    if error.response is not None:  # abort(response): the view already chose the exact answer
        return cast(WerkzeugResponse, error.response)
    status = error.code or 500
    if status == 500:  # abort(500) or Werkzeug's own wrapper: treat it as the fault it is
        return _render_unexpected(error)
    code, detail = _HTTP_PROBLEMS.get(status, (_code_for(status), _phrase(status)))
    headers = {name: value for name, value in error.get_headers() if name in _KEPT_HEADERS}
    return Problem(status, code, _phrase(status), detail, headers=headers).to_response()


def _render_unexpected(error: Exception) -> Response:
    if is_database_unreachable(error):
        # The database is away (restarting, failing over, out of connections): a retry soon may well succeed.
        _log.warning("database_unavailable", exc_info=error, method=request.method, path=request.path)
        return service_unavailable().to_response()
    _log.error(
        "unhandled_exception",
        exc_info=error,
        method=request.method,
        path=request.path,
    )
    return internal_error().to_response()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _code_for(status: int) -> str:
    return _phrase(status).lower().replace(" ", "_").replace("-", "_")
