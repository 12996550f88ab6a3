"""Money coming in is checked before anything moves: a refused top-up or credit leaves no trace, not even its key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tripline.testing import bearer

from ..cashier import Cashier, footprint, inr

ASHA = bearer("asha", "customer")
ADMIN = bearer("admin-1", "admin")
LEFT_OUT = object()  # a member the request does not carry at all
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One way money comes into asha's wallet, with a body it accepts."""

    name: str
    path: str
    headers: dict[str, str]
    valid: dict[str, Any]

    def post(self, client: FlaskClient, key: str, **kwargs: Any) -> Any:
        return client.post(self.path, headers={**self.headers, "Idempotency-Key": key}, **kwargs)

    def with_amount(self, amount: Any) -> dict[str, Any]:
        return without_left_out({**self.valid, "amount": amount})


TOP_UP = Endpoint("top-up", "/v1/wallets/me/top-ups", ASHA, {"amount": inr(2_000)})
CREDIT = Endpoint("credit", "/v1/wallets/asha/credits", ADMIN, {"amount": inr(2_000), "reason": "delayed bus"})
ENDPOINTS = (TOP_UP, CREDIT)


def without_left_out(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if value is not LEFT_OUT}


def amount(amount_minor: Any = 2_000, currency: Any = "INR") -> dict[str, Any]:
    return without_left_out({"amount_minor": amount_minor, "currency": currency})


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    """A problem document that says what is wrong and nothing about how the service is built."""
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail", "code"} <= set(problem)
    assert (problem["status"], problem["code"]) == (status, code)
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem
    assert "pydantic" not in response.text.lower()
    assert "Traceback" not in response.text


def assert_fixed_body_is_accepted(client: FlaskClient, endpoint: Endpoint, key: str) -> None:
    """The key of a refused request is still free: the client fixes the body and sends it again."""
    response = endpoint.post(client, key, json=endpoint.valid)
    assert response.status_code == 201, response.json
    assert "Idempotent-Replayed" not in response.headers


@pytest.fixture(autouse=True)
def asha_has_money(cashier: Cashier) -> None:
    """A wallet already in use, so a refusal that changed its balance would show."""
    cashier.top_up("asha", 5_000)


@pytest.mark.parametrize(
    ("money", "code", "field"),
    [
        pytest.param(amount(0), "validation_failed", "amount.amount_minor", id="zero"),
        pytest.param(amount(-100), "validation_failed", "amount.amount_minor", id="negative"),
        pytest.param(amount(1.5), "validation_failed", "amount.amount_minor", id="fraction"),
        pytest.param(amount(100.0), "validation_failed", "amount.amount_minor", id="float"),
        pytest.param(amount("100"), "validation_failed", "amount.amount_minor", id="string"),
        pytest.param(amount(True), "validation_failed", "amount.amount_minor", id="boolean"),
        pytest.param(amount(None), "validation_failed", "amount.amount_minor", id="null"),
        pytest.param(amount(LEFT_OUT), "validation_failed", "amount.amount_minor", id="no-amount-minor"),
        pytest.param(amount(10_000_000_001), "validation_failed", "amount.amount_minor", id="above-max"),
        pytest.param(amount(2**70), "validation_failed", "amount.amount_minor", id="beyond-bigint"),
        pytest.param(amount(currency=LEFT_OUT), "validation_failed", "amount.currency", id="no-currency"),
        pytest.param(amount(currency="inr"), "validation_failed", "amount.currency", id="lowercase-currency"),
        pytest.param(amount(currency="RUPEE"), "validation_failed", "amount.currency", id="not-a-currency-code"),
        pytest.param(amount(currency="USD"), "unsupported_currency", "amount.currency", id="foreign-currency"),
        pytest.param({**amount(), "scale": 2}, "validation_failed", "amount.scale", id="unknown-money-member"),
        pytest.param(LEFT_OUT, "validation_failed", "amount", id="no-amount"),
        pytest.param(2_000, "validation_failed", "amount", id="bare-number"),
    ],
)
def test_money_the_contract_does_not_allow_is_refused_and_nothing_is_written(
    client: FlaskClient, database_url: str, money: Any, code: str, field: str
) -> None:
    for endpoint in ENDPOINTS:
        before = footprint(database_url)

        response = endpoint.post(client, f"{endpoint.name}-key", json=endpoint.with_amount(money))

        assert_refused(response, 400, code, field)
        assert footprint(database_url) == before, endpoint.name
        assert_fixed_body_is_accepted(client, endpoint, f"{endpoint.name}-key")


@pytest.mark.parametrize("amount_minor", [1, 10_000_000_000])
def test_one_and_ten_billion_minor_units_are_both_allowed(client: FlaskClient, amount_minor: int) -> None:
    for endpoint in ENDPOINTS:
        response = endpoint.post(client, endpoint.name, json=endpoint.with_amount(amount(amount_minor)))
        assert response.status_code == 201, response.json
        assert response.json["amount"] == inr(amount_minor)


def test_an_unknown_member_of_the_body_is_refused(client: FlaskClient, database_url: str) -> None:
    for endpoint in ENDPOINTS:
        before = footprint(database_url)

        response = endpoint.post(client, "k", json={**endpoint.valid, "tip": inr(100)})

        assert_refused(response, 400, "validation_failed", "tip")
        assert footprint(database_url) == before
        assert_fixed_body_is_accepted(client, endpoint, "k")


def test_malformed_json_is_refused_and_nothing_is_written(client: FlaskClient, database_url: str) -> None:
    for endpoint in ENDPOINTS:
        before = footprint(database_url)

        response = endpoint.post(client, "k", data='{"amount": {"amount_minor": 1', content_type="application/json")

        assert_refused(response, 400, "malformed_json")
        assert footprint(database_url) == before
        assert_fixed_body_is_accepted(client, endpoint, "k")


def test_a_body_that_is_not_an_object_is_refused(client: FlaskClient, database_url: str) -> None:
    before = footprint(database_url)

    for endpoint in ENDPOINTS:
        for body in ([endpoint.valid], "2000", None):
            response = endpoint.post(client, "k", data=json.dumps(body), content_type="application/json")
            assert_refused(response, 400, "validation_failed", "body")

    assert footprint(database_url) == before


def test_a_body_not_sent_as_json_is_refused_and_may_be_sent_again_as_json(
    client: FlaskClient, database_url: str
) -> None:
    for endpoint in ENDPOINTS:
        before = footprint(database_url)

        response = endpoint.post(client, "k", data=json.dumps(endpoint.valid), content_type="text/plain")

        assert_refused(response, 415, "unsupported_media_type")
        assert footprint(database_url) == before
        assert_fixed_body_is_accepted(client, endpoint, "k")


def test_a_body_larger_than_64_kib_is_refused(client: FlaskClient, database_url: str) -> None:
    before = footprint(database_url)

    for endpoint in ENDPOINTS:
        body = {**endpoint.valid, "padding": "x" * MAX_BODY_BYTES}
        assert_refused(endpoint.post(client, "k", json=body), 413, "payload_too_large")

    assert footprint(database_url) == before


@pytest.mark.parametrize(
    "reason",
    [LEFT_OUT, None, "", "   ", "r" * 501, 42, "late\u0000bus"],
    ids=["missing", "null", "empty", "blank", "501-characters", "number", "nul-character"],
)
def test_a_credit_needs_a_reason_of_at_most_500_characters(client: FlaskClient, database_url: str, reason: Any) -> None:
    before = footprint(database_url)

    response = CREDIT.post(client, "k", json=without_left_out({**CREDIT.valid, "reason": reason}))

    assert_refused(response, 400, "validation_failed", "reason")
    assert footprint(database_url) == before
    assert_fixed_body_is_accepted(client, CREDIT, "k")


def test_a_reason_of_exactly_500_characters_is_kept_whole(client: FlaskClient) -> None:
    response = CREDIT.post(client, "k", json={**CREDIT.valid, "reason": "r" * 500})

    assert response.status_code == 201, response.json
    assert response.json["reason"] == "r" * 500
