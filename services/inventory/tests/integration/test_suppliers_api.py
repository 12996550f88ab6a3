"""Operators and property owners over HTTP: submission, review, visibility, audit trail and events."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from inventory.domain.approvals import TRANSITIONS, ApprovalStatus, Decision
from inventory.entrypoints.suppliers_api import Supplier

from ..support import ADMIN, bearer, outbox_payloads, sql

# The contract's Operator shape, plus reviewed_by.
RESOURCE_KEYS = {"id", "account_id", "name", "contact_email", "approval_status", "submitted_at", "approved_at"}
RESOURCE_KEYS |= {"rejected_at", "suspended_at", "review_note", "reviewed_by"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    role: str
    table: str
    id_field: str

    @property
    def subject(self) -> str:
        return f"inventory.evt.{self.name}.status_changed"

    def headers(self, sub: str) -> dict[str, str]:
        return bearer(sub, self.role)


OPERATOR = Kind("operator", "/v1/operators", "operator", "operators", "operator_id")
OWNER = Kind("owner", "/v1/property-owners", "owner", "property_owners", "owner_id")
KINDS = pytest.mark.parametrize("kind", [OPERATOR, OWNER], ids=lambda kind: kind.name)

# How to walk a fresh (pending) supplier into each status.
PATH_TO = {
    ApprovalStatus.PENDING: [],
    ApprovalStatus.APPROVED: [Decision.APPROVE],
    ApprovalStatus.REJECTED: [Decision.REJECT],
    ApprovalStatus.SUSPENDED: [Decision.APPROVE, Decision.SUSPEND],
}
ILLEGAL = [pair for pair in itertools.product(ApprovalStatus, Decision) if pair not in TRANSITIONS]


def submit(client: FlaskClient, kind: Kind, sub: str = "acct-1", **body: Any) -> dict[str, Any]:
    document = {"name": "Konkan Travels", "contact_email": "ops@konkan.example", **body}
    response = client.post(kind.path, json=document, headers=kind.headers(sub))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def decide(client: FlaskClient, kind: Kind, supplier_id: str, decision: Decision, text: str = "ok") -> TestResponse:
    body = {"note": text} if decision is Decision.APPROVE else {"reason": text}
    return client.post(f"{kind.path}/{supplier_id}/{decision.value}", json=body, headers=ADMIN)


def audit_trail(database_url: str, supplier_id: str) -> list[tuple[Any, ...]]:
    return sql(
        database_url,
        "SELECT supplier_kind, from_status, to_status, actor, reason FROM approval_audit"
        " WHERE supplier_id = %s ORDER BY id",
        supplier_id,
    )


def row_of(database_url: str, kind: Kind, supplier_id: str) -> tuple[Any, ...]:
    return sql(database_url, f"SELECT * FROM {kind.table} WHERE id = %s", supplier_id)[0]


def events(database_url: str, kind: Kind) -> list[tuple[str, str, int]]:
    return [
        (payload[kind.id_field], payload["approval_status"], payload["version"])
        for payload in outbox_payloads(database_url, kind.subject)
    ]


def moment(stamp: str) -> datetime:
    # Compared as instants, not strings: RFC 3339 drops the fraction when it is zero.
    assert stamp.endswith("Z")
    return datetime.fromisoformat(stamp)


def problem(response: TestResponse) -> dict[str, Any]:
    body = dict(response.json or {})
    assert response.content_type == "application/problem+json"
    return {key: value for key, value in body.items() if key not in ("instance", "request_id")}


# Submission ----------------------------------------------------------------------------------------------------


@KINDS
def test_submission_is_pending_audited_and_announced(client: FlaskClient, database_url: str, kind: Kind) -> None:
    response = client.post(
        kind.path, json={"name": "Konkan Travels", "contact_email": "ops@konkan.example"}, headers=kind.headers("a-1")
    )

    assert response.status_code == 201
    body = response.json or {}
    assert set(body) == RESOURCE_KEYS == set(Supplier.model_fields)
    assert response.headers["Location"] == f"{kind.path}/{body['id']}"
    assert body["account_id"] == "a-1"
    assert (body["name"], body["contact_email"]) == ("Konkan Travels", "ops@konkan.example")
    assert body["approval_status"] == "pending"
    assert body["submitted_at"].endswith("Z")
    unset = ("approved_at", "rejected_at", "suspended_at", "review_note", "reviewed_by")
    assert [body[key] for key in unset] == [None] * len(unset)
    assert sql(database_url, f"SELECT version FROM {kind.table}") == [(1,)]
    assert audit_trail(database_url, body["id"]) == [(kind.name, None, "pending", "a-1", None)]
    assert events(database_url, kind) == [(body["id"], "pending", 1)]


@KINDS
def test_name_and_email_are_stored_trimmed(client: FlaskClient, kind: Kind) -> None:
    body = submit(client, kind, name="  Konkan Travels ", contact_email=" ops@konkan.example ")

    assert (body["name"], body["contact_email"]) == ("Konkan Travels", "ops@konkan.example")


@KINDS
def test_second_supplier_for_the_same_account_is_409(client: FlaskClient, database_url: str, kind: Kind) -> None:
    first = submit(client, kind, "a-1")

    response = client.post(
        kind.path, json={"name": "Again", "contact_email": "x@y.example"}, headers=kind.headers("a-1")
    )

    assert response.status_code == 409
    assert problem(response)["code"] == "already_exists"
    assert sql(database_url, f"SELECT id::text FROM {kind.table}") == [(first["id"],)]
    assert len(events(database_url, kind)) == 1


def test_racing_submissions_for_one_account_create_exactly_one(app: Flask, database_url: str) -> None:
    racers = 6
    start = threading.Barrier(racers, timeout=30)

    def race(_: int) -> int:
        client = app.test_client()
        start.wait()
        body = {"name": "Konkan Travels", "contact_email": "ops@konkan.example"}
        return client.post(OPERATOR.path, json=body, headers=OPERATOR.headers("a-1")).status_code

    with ThreadPoolExecutor(racers) as pool:
        statuses = sorted(pool.map(race, range(racers)))

    assert statuses == [201] + [409] * (racers - 1)
    assert sql(database_url, "SELECT count(*) FROM operators") == [(1,)]
    assert sql(database_url, "SELECT count(*) FROM approval_audit") == [(1,)]
    assert len(events(database_url, OPERATOR)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Konkan", "contact_email": "ops@konkan.example", "gstin": "x"}, "gstin"),
        ({"name": "   ", "contact_email": "ops@konkan.example"}, "name"),
        ({"name": "x" * 201, "contact_email": "ops@konkan.example"}, "name"),
        ({"name": 7, "contact_email": "ops@konkan.example"}, "name"),
        ({"contact_email": "ops@konkan.example"}, "name"),
        ({"name": "Konkan", "contact_email": "not-an-email"}, "contact_email"),
        ({"name": "Konkan", "contact_email": "a" * 250 + "@x.example"}, "contact_email"),
        ({"name": "Konkan"}, "contact_email"),
    ],
)
def test_invalid_submission_is_400_naming_the_field(
    client: FlaskClient, database_url: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(OPERATOR.path, json=body, headers=OPERATOR.headers("a-1"))

    assert response.status_code == 400
    assert field in [error["field"] for error in problem(response)["errors"]]
    assert sql(database_url, "SELECT count(*) FROM operators") == [(0,)]


def test_malformed_json_submission_is_400(client: FlaskClient) -> None:
    headers = {**OPERATOR.headers("a-1"), "Content-Type": "application/json"}

    response = client.post(OPERATOR.path, data="{", headers=headers)

    assert response.status_code == 400
    assert problem(response)["code"] == "malformed_json"


# Roles and visibility ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/v1/operators", "customer"),
        ("/v1/operators", "owner"),
        ("/v1/operators", "admin"),
        ("/v1/property-owners", "customer"),
        ("/v1/property-owners", "operator"),
        ("/v1/property-owners", "admin"),
    ],
)
def test_only_the_kinds_own_role_may_submit(client: FlaskClient, database_url: str, path: str, role: str) -> None:
    body = {"name": "Konkan Travels", "contact_email": "ops@konkan.example"}

    response = client.post(path, json=body, headers=bearer("a-1", role))

    assert response.status_code == 403
    assert problem(response)["code"] == "forbidden"
    assert sql(database_url, "SELECT count(*) FROM approval_audit") == [(0,)]


@KINDS
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("post", ""),
        ("get", ""),
        ("get", "/{id}"),
        ("get", "/{id}/history"),
        ("post", "/{id}/approve"),
        ("post", "/{id}/reject"),
        ("post", "/{id}/suspend"),
    ],
)
def test_every_route_needs_a_token(client: FlaskClient, kind: Kind, method: str, suffix: str) -> None:
    response = client.open(kind.path + suffix.format(id=UNKNOWN_ID), method=method.upper(), json={})

    assert response.status_code == 401
    assert problem(response)["code"] == "unauthorized"


@KINDS
@pytest.mark.parametrize("role", ["customer", "operator", "owner"])
def test_only_admins_list_and_review(client: FlaskClient, database_url: str, kind: Kind, role: str) -> None:
    supplier = submit(client, kind, "a-1")
    headers = bearer("a-1", role)  # even the supplier's own account

    listed = client.get(kind.path, headers=headers)
    reviews = [
        client.post(f"{kind.path}/{supplier['id']}/{decision.value}", json={"reason": "x"}, headers=headers)
        for decision in Decision
    ]

    assert [listed.status_code] + [r.status_code for r in reviews] == [403] * 4
    assert audit_trail(database_url, supplier["id"]) == [(kind.name, None, "pending", "a-1", None)]


@KINDS
def test_the_supplier_and_admins_see_it(client: FlaskClient, kind: Kind) -> None:
    supplier = submit(client, kind, "a-1")

    own = client.get(f"{kind.path}/{supplier['id']}", headers=kind.headers("a-1"))
    admin = client.get(f"{kind.path}/{supplier['id']}", headers=ADMIN)

    assert own.status_code == admin.status_code == 200
    assert own.json == admin.json == supplier


@KINDS
@pytest.mark.parametrize("suffix", ["", "/history"])
@pytest.mark.parametrize("role", ["operator", "owner", "customer"])
def test_someone_elses_supplier_is_404_like_an_unknown_one(
    client: FlaskClient, kind: Kind, suffix: str, role: str
) -> None:
    supplier = submit(client, kind, "a-1")

    theirs = client.get(f"{kind.path}/{supplier['id']}{suffix}", headers=bearer("a-2", role))
    unknown = client.get(f"{kind.path}/{UNKNOWN_ID}{suffix}", headers=bearer("a-2", role))

    assert theirs.status_code == unknown.status_code == 404
    assert problem(theirs) == problem(unknown)


def test_an_operator_id_is_not_a_property_owner_id(client: FlaskClient) -> None:
    operator = submit(client, OPERATOR, "a-1")

    response = client.get(f"{OWNER.path}/{operator['id']}", headers=ADMIN)

    assert response.status_code == 404


# Review lifecycle ----------------------------------------------------------------------------------------------


@KINDS
def test_approve_suspend_approve_stamps_each_status_and_audits_it(
    client: FlaskClient, database_url: str, kind: Kind
) -> None:
    supplier = submit(client, kind, "a-1")
    path = f"{kind.path}/{supplier['id']}"

    approved = client.post(f"{path}/approve", json={"note": "Documents verified"}, headers=ADMIN)
    suspended = client.post(f"{path}/suspend", json={"reason": "Complaints"}, headers=ADMIN)
    again = client.post(f"{path}/approve", json={}, headers=ADMIN)

    assert [approved.status_code, suspended.status_code, again.status_code] == [200, 200, 200]
    first, second, third = approved.json or {}, suspended.json or {}, again.json or {}
    assert (first["approval_status"], first["review_note"], first["reviewed_by"]) == (
        "approved",
        "Documents verified",
        "admin-1",
    )
    assert first["approved_at"] is not None
    assert first["suspended_at"] is None
    assert (second["approval_status"], second["review_note"]) == ("suspended", "Complaints")
    assert second["approved_at"] == first["approved_at"]  # earlier stamps are kept
    assert moment(second["suspended_at"]) >= moment(first["approved_at"])
    assert third["approval_status"] == "approved"
    assert third["review_note"] is None
    assert moment(third["approved_at"]) >= moment(second["suspended_at"])
    assert third["suspended_at"] == second["suspended_at"]
    assert third["submitted_at"] == supplier["submitted_at"]
    assert third["rejected_at"] is None
    assert client.get(path, headers=ADMIN).json == third
    assert audit_trail(database_url, supplier["id"]) == [
        (kind.name, None, "pending", "a-1", None),
        (kind.name, "pending", "approved", "admin-1", "Documents verified"),
        (kind.name, "approved", "suspended", "admin-1", "Complaints"),
        (kind.name, "suspended", "approved", "admin-1", None),
    ]
    assert events(database_url, kind) == [
        (supplier["id"], "pending", 1),
        (supplier["id"], "approved", 2),
        (supplier["id"], "suspended", 3),
        (supplier["id"], "approved", 4),
    ]


@KINDS
def test_reject_then_approve_keeps_the_rejection_stamp(client: FlaskClient, database_url: str, kind: Kind) -> None:
    supplier = submit(client, kind, "a-1")

    rejected = decide(client, kind, supplier["id"], Decision.REJECT, "Missing licence")
    approved = decide(client, kind, supplier["id"], Decision.APPROVE, "Licence received")

    assert rejected.status_code == approved.status_code == 200
    first, second = rejected.json or {}, approved.json or {}
    assert (first["approval_status"], first["review_note"], first["approved_at"]) == (
        "rejected",
        "Missing licence",
        None,
    )
    assert moment(first["rejected_at"]) >= moment(supplier["submitted_at"])
    assert (second["approval_status"], second["review_note"]) == ("approved", "Licence received")
    assert second["rejected_at"] == first["rejected_at"]
    assert moment(second["approved_at"]) >= moment(first["rejected_at"])
    assert audit_trail(database_url, supplier["id"]) == [
        (kind.name, None, "pending", "a-1", None),
        (kind.name, "pending", "rejected", "admin-1", "Missing licence"),
        (kind.name, "rejected", "approved", "admin-1", "Licence received"),
    ]
    assert [status for _, status, _ in events(database_url, kind)] == ["pending", "rejected", "approved"]
    assert [version for _, _, version in events(database_url, kind)] == [1, 2, 3]


@KINDS
@pytest.mark.parametrize(("current", "decision"), ILLEGAL, ids=lambda item: str(item))
def test_illegal_transition_is_409_and_changes_nothing(
    client: FlaskClient, database_url: str, kind: Kind, current: ApprovalStatus, decision: Decision
) -> None:
    supplier = submit(client, kind, "a-1")
    for step in PATH_TO[current]:
        assert decide(client, kind, supplier["id"], step).status_code == 200
    before = (row_of(database_url, kind, supplier["id"]), audit_trail(database_url, supplier["id"]))
    announced = events(database_url, kind)

    response = decide(client, kind, supplier["id"], decision, "try")

    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "invalid_transition"
    assert current.value in body["detail"]
    assert body["approval_status"] == current.value
    assert (row_of(database_url, kind, supplier["id"]), audit_trail(database_url, supplier["id"])) == before
    assert events(database_url, kind) == announced


@KINDS
@pytest.mark.parametrize("decision", list(Decision))
def test_reviewing_an_unknown_supplier_is_404(client: FlaskClient, kind: Kind, decision: Decision) -> None:
    response = decide(client, kind, UNKNOWN_ID, decision)

    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"


def test_approval_may_come_without_a_body(client: FlaskClient, database_url: str) -> None:
    supplier = submit(client, OPERATOR, "a-1")

    response = client.post(f"{OPERATOR.path}/{supplier['id']}/approve", headers=ADMIN)

    assert response.status_code == 200
    assert (response.json or {})["approval_status"] == "approved"
    assert audit_trail(database_url, supplier["id"])[-1] == ("operator", "pending", "approved", "admin-1", None)


@pytest.mark.parametrize(
    ("decision", "body", "field"),
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("reject", {"reason": "  "}, "reason"),
        ("suspend", {"reason": "x" * 1001}, "reason"),
        ("suspend", {"note": "no reason"}, "note"),
        ("reject", {"reason": 5}, "reason"),
        ("approve", {"note": "x" * 1001}, "note"),
        ("approve", {"reason": "approve takes a note"}, "reason"),
    ],
)
def test_invalid_review_body_is_400_and_changes_nothing(
    client: FlaskClient, database_url: str, decision: str, body: dict[str, Any], field: str
) -> None:
    supplier = submit(client, OPERATOR, "a-1")

    response = client.post(f"{OPERATOR.path}/{supplier['id']}/{decision}", json=body, headers=ADMIN)

    assert response.status_code == 400
    assert field in [error["field"] for error in problem(response)["errors"]]
    assert len(audit_trail(database_url, supplier["id"])) == 1


def test_concurrent_approvals_let_exactly_one_through(app: Flask, database_url: str) -> None:
    supplier = submit(app.test_client(), OPERATOR, "a-1")
    admins = 8
    start = threading.Barrier(admins, timeout=30)

    def approve(_: int) -> int:
        client = app.test_client()
        start.wait()
        return decide(client, OPERATOR, supplier["id"], Decision.APPROVE).status_code

    with ThreadPoolExecutor(admins) as pool:
        statuses = sorted(pool.map(approve, range(admins)))

    assert statuses == [200] + [409] * (admins - 1)
    assert [to for _, _, to, _, _ in audit_trail(database_url, supplier["id"])] == ["pending", "approved"]
    assert events(database_url, OPERATOR) == [(supplier["id"], "pending", 1), (supplier["id"], "approved", 2)]
    assert sql(database_url, "SELECT approval_status, version FROM operators") == [("approved", 2)]


@pytest.mark.parametrize("statement", ["UPDATE approval_audit SET reason = 'rewritten'", "DELETE FROM approval_audit"])
def test_approval_audit_rows_cannot_be_changed_or_removed(
    client: FlaskClient, database_url: str, statement: str
) -> None:
    supplier = submit(client, OPERATOR, "a-1")
    before = audit_trail(database_url, supplier["id"])

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        sql(database_url, statement)

    assert audit_trail(database_url, supplier["id"]) == before


# Review queue --------------------------------------------------------------------------------------------------


@KINDS
def test_the_queue_pages_in_submission_order(client: FlaskClient, kind: Kind) -> None:
    submitted = [submit(client, kind, f"a-{n}")["id"] for n in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(kind.path, query_string=query, headers=ADMIN)
        assert response.status_code == 200
        page = response.json or {}
        seen += [item["id"] for item in page["items"]]
        assert all(set(item) == RESOURCE_KEYS for item in page["items"])
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break

    assert seen == submitted
    assert pages == 3


@KINDS
def test_the_queue_filters_by_approval_status(client: FlaskClient, kind: Kind) -> None:
    ids = [submit(client, kind, f"a-{n}")["id"] for n in range(4)]
    decide(client, kind, ids[1], Decision.APPROVE)
    decide(client, kind, ids[2], Decision.REJECT)

    pending = client.get(kind.path, query_string={"approval_status": "pending"}, headers=ADMIN).json or {}
    rejected = client.get(kind.path, query_string={"approval_status": "rejected"}, headers=ADMIN).json or {}
    everyone = client.get(kind.path, headers=ADMIN).json or {}

    assert [item["id"] for item in pending["items"]] == [ids[0], ids[3]]
    assert [item["id"] for item in rejected["items"]] == [ids[2]]
    assert [item["id"] for item in everyone["items"]] == ids
    assert pending["next_cursor"] is everyone["next_cursor"] is None


def test_an_exact_last_page_has_no_next_cursor(client: FlaskClient) -> None:
    for n in range(2):
        submit(client, OPERATOR, f"a-{n}")

    page = client.get(OPERATOR.path, query_string={"limit": 2}, headers=ADMIN).json or {}

    assert (len(page["items"]), page["next_cursor"]) == (2, None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"approval_status": "banned"}, "approval_status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "e30"}, "cursor"),  # {}: well-formed, but no position in it
        ({"cursor": "eyJpZCI6MX0"}, "cursor"),  # {"id":1}
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_queue_query_is_400(client: FlaskClient, query: dict[str, str], field: str) -> None:
    response = client.get(OPERATOR.path, query_string=query, headers=ADMIN)

    assert response.status_code == 400
    assert field in [error["field"] for error in problem(response)["errors"]]


# History (extension) -------------------------------------------------------------------------------------------


@KINDS
def test_history_lists_every_decision_oldest_first(client: FlaskClient, kind: Kind) -> None:
    supplier = submit(client, kind, "a-1")
    decide(client, kind, supplier["id"], Decision.REJECT, "Missing licence")
    approved = (decide(client, kind, supplier["id"], Decision.APPROVE, "Fine now").json or {})["approved_at"]

    response = client.get(f"{kind.path}/{supplier['id']}/history", headers=kind.headers("a-1"))

    assert response.status_code == 200
    items = (response.json or {})["items"]
    assert [(i["from"], i["to"], i["actor"], i["reason"]) for i in items] == [
        (None, "pending", "a-1", None),
        ("pending", "rejected", "admin-1", "Missing licence"),
        ("rejected", "approved", "admin-1", "Fine now"),
    ]
    assert items[0]["at"] == supplier["submitted_at"]
    assert items[-1]["at"] == approved
    assert client.get(f"{kind.path}/{supplier['id']}/history", headers=ADMIN).json == response.json


# Published contract --------------------------------------------------------------------------------------------


def test_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = (client.get("/openapi.json").json or {})["paths"]

    for prefix in ("/v1/operators", "/v1/property-owners"):
        assert set(paths[prefix]) == {"get", "post"}
        assert set(paths[prefix + "/{supplier_id}"]) == {"get"}
        assert "Extension" in paths[prefix + "/{supplier_id}/history"]["get"]["summary"]
        for decision in ("approve", "reject", "suspend"):
            operation = paths[f"{prefix}/{{supplier_id}}/{decision}"]["post"]
            assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
        assert "409" in paths[prefix]["post"]["responses"]
