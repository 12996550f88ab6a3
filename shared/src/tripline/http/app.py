"""The Flask app every service starts from: errors, request ids, auth, health, readiness, OpenAPI, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, cast

from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from tripline.auth.access import install_auth
from tripline.auth.tokens import TokenVerifier
from tripline.db import make_engine, make_session_factory
from tripline.http import gunicorn_conf
from tripline.http.idempotency import IdempotencyStore
from tripline.http.openapi import build_openapi
from tripline.http.problems import install_problem_handlers
from tripline.http.readiness import Readiness
from tripline.http.request_context import install_request_context
from tripline.logging import configure_logging
from tripline.plumbing import PlumbingTables
from tripline.settings import AuthSettings, MessagingSettings, ServiceSettings

MAX_BODY_BYTES = 64 * 1024


class BoundedRequest(Request):
    """A request whose streamed body is refused (413) when it runs past ``max_content_length``, never cut short."""

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, bounded by Content-Length, or else by the maximum checked one byte beyond it."""
        limit = self.max_content_length
        # Werkzeug stops a chunked body (no Content-Length) at the maximum without looking further, so a longer
        # one would reach the view cut at exactly the limit. The server terminates the stream (gunicorn's
        # wsgi.input_terminated), so reading one byte more is safe and tells the two apart.
        if self.content_length is None and limit is not None and "wsgi.input_terminated" in self.environ:
            return cast(IO[bytes], _StreamedBody(self.environ["wsgi.input"], limit))
        return super().stream


class _StreamedBody(LimitedStream):
    """A streamed body read up to one byte beyond ``limit``: having that byte makes it too large."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)

    def readinto(self, b: bytearray) -> int | None:  # type: ignore[override]
        size = super().readinto(b)
        if self.is_exhausted:
            raise RequestEntityTooLarge()
        return size


def read_streamed_body() -> None:
    """Read a body streamed without Content-Length whole (refused past the limit) before anything answers."""
    # An answer sent while such a body is still arriving (a 401 to a chunked upload, say) races the sender's
    # own refusal of it: the gateway stops an oversized body only as it passes it on, and reports 413 only if
    # the service has not answered first. Bodies with a Content-Length are checked up front and need no read.
    if request.content_length is None and request.headers.get("Transfer-Encoding"):
        request.get_data(cache=True)


@dataclass(frozen=True)
class ServiceRuntime:
    """What views reach through ``current_app.extensions["tripline"]``."""

    name: str
    engine: Engine
    session_factory: sessionmaker[Session]
    idempotency: IdempotencyStore
    readiness: Readiness
    # What else the app started that holds a connection (a listener thread, say), stopped by ``close``.
    on_close: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop what the app started and close its connections (tests; gunicorn just ends the process)."""
        for stop in self.on_close:
            stop()
        self.engine.dispose()


def create_service_app(
    *,
    name: str,
    version: str,
    settings: ServiceSettings,
    tables: PlumbingTables,
    migrations_dir: Path,
    blueprints: Iterable[Blueprint] = (),
    auth: AuthSettings | None = None,
    messaging: MessagingSettings | None = None,
) -> Flask:
    """Build a service's Flask app; nothing connects until the first request needs it."""
    configure_logging(name)
    app = Flask(name, static_folder=None)
    app.request_class = BoundedRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_problem_handlers(app)
    install_request_context(app, name)
    # After the request's id is bound, so a body refused here is answered and logged under it.
    app.before_request(read_streamed_body)
    install_auth(app, TokenVerifier(auth or AuthSettings()))
    engine = make_engine(
        settings.database_url.get_secret_value(),
        application_name=f"{name}-web",
        # A connection per thread is all the threads can use at once: no overflow to open and close.
        pool_size=settings.db_pool_size or gunicorn_conf.threads,
        max_overflow=None if settings.db_pool_size else 0,
    )
    session_factory = make_session_factory(engine)
    app.extensions["tripline"] = ServiceRuntime(
        name=name,
        engine=engine,
        session_factory=session_factory,
        idempotency=IdempotencyStore(session_factory, tables.idempotency_requests),
        readiness=Readiness(engine, migrations_dir, (messaging or MessagingSettings()).nats_url),
    )
    app.register_blueprint(operational_blueprint(name, version))
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def operational_blueprint(name: str, version: str) -> Blueprint:
    """``/healthz``, ``/readyz``, ``/openapi.json`` and ``/metrics`` on the service's own port."""
    blueprint = Blueprint("operational", __name__)
    openapi_cache: dict[str, object] = {}

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=name)

    @blueprint.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks = current_app.extensions["tripline"].readiness.checks()
        ready = all(value == "ok" for value in checks.values())
        return jsonify(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503

    @blueprint.get("/openapi.json")
    def openapi() -> Response:
        if "document" not in openapi_cache:
            openapi_cache["document"] = build_openapi(current_app, title=f"Tripline {name}", version=version)
        return jsonify(openapi_cache["document"])

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    return blueprint
