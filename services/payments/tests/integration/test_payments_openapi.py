"""Every Payments endpoint of the public contract is published in the service's OpenAPI document, as it behaves."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tripline.http.openapi import undocumented_rules
from tripline.testing import bearer

ASHA = bearer("asha", "customer")
ADMIN = bearer("admin-1", "admin")
CONTRACT = {
    ("get", "/v1/wallets/me"),
    ("post", "/v1/wallets/me/top-ups"),
    ("get", "/v1/wallets/me/transactions"),
    ("get", "/v1/wallets/{customer_id}"),
    ("get", "/v1/wallets/{customer_id}/transactions"),
    ("post", "/v1/wallets/{customer_id}/credits"),
}
EXTENSIONS = {
    ("get", "/v1/wallets/me/transactions/{transaction_id}"),
    ("get", "/v1/wallets/{customer_id}/transactions/{transaction_id}"),
}
IDEMPOTENT = {("post", "/v1/wallets/me/top-ups"), ("post", "/v1/wallets/{customer_id}/credits")}


def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in doc["paths"].items() for method, operation in item.items()}


def assert_matches_schema(doc: dict[str, Any], component: str, instance: Any) -> None:
    """``instance`` is valid against the published component (its ``$ref``s resolved within the document)."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    errors = [error.message for error in Draft202012Validator(schema).iter_errors(instance)]
    assert errors == [], f"{component}: {errors}"


def test_the_document_is_valid_openapi_3_1_and_documents_every_wallet_operation(
    app: Flask, client: FlaskClient
) -> None:
    doc = document(client)

    validate(doc)
    assert doc["openapi"] == "3.1.0"
    wallet_operations = {key for key in operations(doc) if key[1].startswith("/v1/wallets")}
    assert wallet_operations == CONTRACT | EXTENSIONS
    assert undocumented_rules(app) == []


def test_every_operation_declares_its_auth_its_key_and_its_errors(client: FlaskClient) -> None:
    for (method, path), operation in operations(document(client)).items():
        where = f"{method} {path}"
        codes = set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}], where
        assert {"401", "403"} <= codes, where
        assert operation["tags"] == ["wallets"], where
        headers = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "header"]
        assert headers == (["Idempotency-Key"] if (method, path) in IDEMPOTENT else []), where
        if (method, path) in IDEMPOTENT:
            assert {"201", "400", "409", "422"} <= codes, where
        if "{transaction_id}" in path or path == "/v1/wallets/{customer_id}":
            assert "404" in codes, where
    top_up = operations(document(client))[("post", "/v1/wallets/me/top-ups")]
    assert "402" in top_up["responses"]


def test_every_operation_that_checks_the_customer_id_in_its_path_documents_the_400_it_answers(
    client: FlaskClient,
) -> None:
    """An admin route answers 400 for a customer id longer than a token's subject; the document must say so."""
    undocumented = [
        f"{method} {path}"
        for (method, path), operation in operations(document(client)).items()
        if "{customer_id}" in path and "400" not in operation["responses"]
    ]
    too_long = client.get(f"/v1/wallets/{'c' * 65}", headers=ADMIN)

    assert too_long.status_code == 400
    assert undocumented == []


def test_the_published_schemas_describe_the_bodies_the_service_really_sends(client: FlaskClient) -> None:
    doc = document(client)
    body = {"amount": {"amount_minor": 1_000, "currency": "INR"}}
    made = client.post("/v1/wallets/me/top-ups", json=body, headers={**ASHA, "Idempotency-Key": "k"})
    credited = client.post(
        "/v1/wallets/asha/credits", json={**body, "reason": "goodwill"}, headers={**ADMIN, "Idempotency-Key": "k"}
    )
    refused = client.post("/v1/wallets/me/top-ups", json={"amount": 5}, headers={**ASHA, "Idempotency-Key": "k2"})

    assert_matches_schema(doc, "TopUpRequest", body)
    assert_matches_schema(doc, "Transaction", made.json)
    assert_matches_schema(doc, "Transaction", credited.json)
    assert_matches_schema(doc, "WalletView", client.get("/v1/wallets/me", headers=ASHA).json)
    assert_matches_schema(doc, "WalletView", client.get("/v1/wallets/asha", headers=ADMIN).json)
    assert_matches_schema(doc, "TransactionPage", client.get("/v1/wallets/me/transactions", headers=ASHA).json)
    assert_matches_schema(doc, "Problem", refused.json)
    amount = doc["components"]["schemas"]["Amount"]["properties"]["amount_minor"]
    assert (amount["minimum"], amount["maximum"]) == (1, 10_000_000_000)
