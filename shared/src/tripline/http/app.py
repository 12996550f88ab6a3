"""The Flask app every service starts from: errors, request ids, auth, health, readiness, OpenAPI, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tripline.auth.access import install_auth
from tripline.auth.tokens import TokenVerifier
from tripline.db import make_engine, make_session_factory
from tripline.http.idempotency import IdempotencyStore
from tripline.http.openapi import build_openapi
from tripline.http.problems import install_problem_handlers
from tripline.http.readiness import Readiness
from tripline.http.request_context import install_request_context
from tripline.logging import configure_logging
from tripline.plumbing import PlumbingTables
from tripline.settings import AuthSettings, MessagingSettings, ServiceSettings

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServiceRuntime:
    """What views reach through ``current_app.extensions["tripline"]``."""

    name: str
    engine: Engine
    session_factory: sessionmaker[Session]
    idempotency: IdempotencyStore
    readiness: Readiness


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
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_problem_handlers(app)
    install_request_context(app, name)
    install_auth(app, TokenVerifier(auth or AuthSettings()))
    engine = make_engine(
        settings.database_url.get_secret_value(), application_name=f"{name}-web", pool_size=settings.db_pool_size
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
