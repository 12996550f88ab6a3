"""Operators and property owners over HTTP: submission, roles and who may see a supplier."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from inventory.domain.approvals import Decision
from inventory.entrypoints.suppliers_api import Supplier

from ..support import ADMIN, bearer, sql
from .suppliers import KINDS, OPERATOR, OWNER, RESOURCE_KEYS, UNKNOWN_ID, Kind, audit_trail, events, problem, submit

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
