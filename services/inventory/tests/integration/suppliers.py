"""Operators and property owners as the supplier API tests drive them: the two kinds, and the steps they take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from inventory.domain.approvals import Decision

from ..support import ADMIN, bearer, outbox_payloads, sql

# The contract's Operator shape, plus reviewed_by.
RESOURCE_KEYS = {"id", "account_id", "name", "contact_email", "approval_status", "submitted_at", "approved_at"}
RESOURCE_KEYS |= {"rejected_at", "suspended_at", "review_note", "reviewed_by"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Kind:
    """One kind of supplier as the API shows it: its event name, path, role, table and id in events."""

    name: str
    path: str
    role: str
    table: str
    id_field: str

    @property
    def subject(self) -> str:
        """The subject its status changes are announced on."""
        return f"inventory.evt.{self.name}.status_changed"

    def headers(self, sub: str) -> dict[str, str]:
        """A token for ``sub`` in this kind's role."""
        return bearer(sub, self.role)


OPERATOR = Kind("operator", "/v1/operators", "operator", "operators", "operator_id")
OWNER = Kind("owner", "/v1/property-owners", "owner", "property_owners", "owner_id")
KINDS = pytest.mark.parametrize("kind", [OPERATOR, OWNER], ids=lambda kind: kind.name)


def submit(client: FlaskClient, kind: Kind, sub: str = "acct-1", **body: Any) -> dict[str, Any]:
    """Submit a supplier of ``kind`` for ``sub``; the 201 body."""
    document = {"name": "Konkan Travels", "contact_email": "ops@konkan.example", **body}
    response = client.post(kind.path, json=document, headers=kind.headers(sub))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def decide(client: FlaskClient, kind: Kind, supplier_id: str, decision: Decision, text: str = "ok") -> TestResponse:
    """An admin's ``decision`` about the supplier, with ``text`` as its note or reason."""
    body = {"note": text} if decision is Decision.APPROVE else {"reason": text}
    return client.post(f"{kind.path}/{supplier_id}/{decision.value}", json=body, headers=ADMIN)


def audit_trail(database_url: str, supplier_id: str) -> list[tuple[Any, ...]]:
    """The supplier's approval_audit rows, oldest first: (kind, from, to, actor, reason)."""
    return sql(
        database_url,
        "SELECT supplier_kind, from_status, to_status, actor, reason FROM approval_audit"
        " WHERE supplier_id = %s ORDER BY id",
        supplier_id,
    )


def events(database_url: str, kind: Kind) -> list[tuple[str, str, int]]:
    """Status changes of ``kind`` queued in the outbox: (supplier id, status, version)."""
    return [
        (payload[kind.id_field], payload["approval_status"], payload["version"])
        for payload in outbox_payloads(database_url, kind.subject)
    ]


def moment(stamp: str) -> datetime:
    """An RFC 3339 ``Z`` timestamp as an instant."""
    # Compared as instants, not strings: RFC 3339 drops the fraction when it is zero.
    assert stamp.endswith("Z")
    return datetime.fromisoformat(stamp)


def problem(response: TestResponse) -> dict[str, Any]:
    """The problem document, without the members that echo the request (path, request id)."""
    body = dict(response.json or {})
    assert response.content_type == "application/problem+json"
    return {key: value for key, value in body.items() if key not in ("instance", "request_id")}
