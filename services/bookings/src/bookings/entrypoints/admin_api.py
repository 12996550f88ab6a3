"""Operator routes on bookings' own port (not published through the gateway)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from bookings.service_layer import probes
from tripline.auth.access import requires_role
from tripline.auth.tokens import Role
from tripline.http.problems import not_found
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.timestamps import rfc3339


def admin_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork]) -> Blueprint:
    """``/admin/messaging-probes``: send a probe through inventory and read its answer."""
    blueprint = Blueprint("bookings_admin", __name__, url_prefix="/admin")

    @blueprint.post("/messaging-probes")
    @requires_role(Role.ADMIN)
    def send_probe() -> tuple[Response, int]:
        return jsonify(_shown(probes.request_probe(unit_of_work()))), 202

    @blueprint.get("/messaging-probes/<uuid:probe_id>")
    @requires_role(Role.ADMIN)
    def show_probe(probe_id: uuid.UUID) -> Response:
        probe = probes.find_probe(unit_of_work(), probe_id)
        if probe is None:
            raise not_found("messaging probe")
        return jsonify(_shown(probe))

    return blueprint


def _shown(probe: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(probe["id"]),
        "target": probe["target"],
        "requested_at": rfc3339(probe["requested_at"]),
        "answered_at": rfc3339(probe["answered_at"]),
        "answers": probe["answers"],
    }
