"""Per-request identity: request id and trace context in logs and responses, plus the access log."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, has_request_context, request

from tripline.tracing import (
    TRACEPARENT_HEADER,
    TraceContext,
    bind_trace,
    child_traceparent,
    new_traceparent,
    parse_traceparent,
    unbind_trace,
)

REQUEST_ID_HEADER = "X-Request-ID"
# Generous enough for UUIDs, ULIDs and Caddy's ids; narrow enough that a header can never
# inject a newline or quote into a log line.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_access_log = structlog.get_logger("tripline.http.access")


def install_request_context(app: Flask, service: str) -> None:
    """Bind request id and trace context for every request, echo the id, and log one access line."""

    @app.before_request
    def bind_request_context() -> None:
        g.request_started = time.perf_counter()
        g.request_id = _incoming_request_id() or str(uuid.uuid4())
        g.trace = _span_for(parse_traceparent(request.headers.get(TRACEPARENT_HEADER)))
        g.trace_token = bind_trace(g.trace)
        # gthread workers reuse threads, and context variables outlive a request on its thread.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=g.request_id,
            trace_id=g.trace.trace_id,
            traceparent=g.trace.traceparent,
        )

    @app.after_request
    def finish_request(response: Response) -> Response:
        request_id = current_request_id()
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        _log_access(response, service)
        return response

    @app.teardown_request
    def unbind_request_context(_: BaseException | None) -> None:
        token = g.pop("trace_token", None)
        if token is not None:
            unbind_trace(token)
        structlog.contextvars.clear_contextvars()


def current_request_id() -> str | None:
    """The id of the request being handled, or ``None`` outside a request."""
    if not has_request_context():
        return None
    request_id: str | None = g.get("request_id")
    return request_id


def current_trace_context() -> TraceContext | None:
    """This request's own span (a child of the caller's), or ``None`` outside a request."""
    if not has_request_context():
        return None
    trace: TraceContext | None = g.get("trace")
    return trace


def _incoming_request_id() -> str | None:
    value = request.headers.get(REQUEST_ID_HEADER)
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return None


def _span_for(caller: TraceContext | None) -> TraceContext:
    # Our work is a new span under the caller's, so messages we emit point back at this request.
    return child_traceparent(caller) if caller is not None else new_traceparent()


def _log_access(response: Response, service: str) -> None:
    started: float | None = g.get("request_started")
    duration_ms = (time.perf_counter() - started) * 1000 if started is not None else None
    # Headers and bodies are never logged: they carry tokens and personal data.
    _access_log.info(
        "http_request",
        service=service,
        method=request.method,
        path=request.path,
        route=request.url_rule.rule if request.url_rule is not None else None,
        status=response.status_code,
        duration_ms=round(duration_ms, 2) if duration_ms is not None else None,
        request_id=g.get("request_id"),
        remote_addr=request.remote_addr,
        user_agent=request.user_agent.string or None,
    )
