"""Operators and property owners over HTTP: the approval lifecycle, the review queue and the audit trail."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from inventory.domain.approvals import TRANSITIONS, ApprovalStatus, Decision

from ..support import ADMIN, sql
from .suppliers import (
    KINDS,
    OPERATOR,
    RESOURCE_KEYS,
    UNKNOWN_ID,
    Kind,
    audit_trail,
    decide,
    events,
    moment,
    problem,
    submit,
)

# How to walk a fresh (pending) supplier into each status.
PATH_TO = {
    ApprovalStatus.PENDING: [],
    ApprovalStatus.APPROVED: [Decision.APPROVE],
    ApprovalStatus.REJECTED: [Decision.REJECT],
    ApprovalStatus.SUSPENDED: [Decision.APPROVE, Decision.SUSPEND],
}
ILLEGAL = [pair for pair in itertools.product(ApprovalStatus, Decision) if pair not in TRANSITIONS]


def row_of(database_url: str, kind: Kind, supplier_id: str) -> tuple[Any, ...]:
    return sql(database_url, f"SELECT * FROM {kind.table} WHERE id = %s", supplier_id)[0]


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
