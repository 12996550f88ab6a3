"""Authentication and authorization over HTTP: 401 with a challenge, role checks as 403, ownership as 404."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask

from tripline.auth.access import current_principal, ensure_visible_to, install_auth, requires_role
from tripline.auth.tokens import Principal, Role, TokenVerifier
from tripline.http.problems import Problem, install_problem_handlers, not_found

from .auth_support import DEV, hs256


def make_app() -> Flask:
    app = Flask("auth-test")
    install_problem_handlers(app)
    install_auth(app, TokenVerifier(DEV))

    @app.get("/bookings")
    @requires_role(Role.CUSTOMER)
    def customers_only() -> dict[str, str]:
        return {"sub": current_principal().sub}

    @app.get("/approvals")
    @requires_role(Role.ADMIN)
    def admins_only() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/schedules")
    @requires_role()
    def anyone_signed_in() -> dict[str, str]:
        return {"role": current_principal().role.value}

    @app.get("/search")
    def public() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def call(path: str, authorization: str | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = make_app().test_client().get(path, headers=headers)
    return response.status_code, response.get_json(force=True), dict(response.headers)


def test_missing_token_is_401_with_a_bearer_challenge() -> None:
    status, body, headers = call("/bookings")

    assert status == 401
    assert body["code"] == "unauthorized"
    assert headers["WWW-Authenticate"] == "Bearer"
    assert headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("authorization", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer   ", "alice"])
def test_malformed_authorization_header_is_401(authorization: str) -> None:
    status, body, headers = call("/bookings", authorization)

    assert status == 401
    assert "Bearer <token>" in body["detail"]
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_expired_token_is_401_and_the_detail_says_so_without_echoing_it() -> None:
    token = hs256(exp=int(time.time()) - 3600)

    status, body, _ = call("/bookings", f"Bearer {token}")

    assert status == 401
    assert "expired" in body["detail"]
    assert token not in json.dumps(body)


def test_right_role_gets_in() -> None:
    assert call("/bookings", f"bearer {hs256()}")[:2] == (200, {"sub": "alice"})
    assert call("/schedules", f"Bearer {hs256(role='operator')}")[:2] == (200, {"role": "operator"})


def test_wrong_role_is_403() -> None:
    status, body, _ = call("/approvals", f"Bearer {hs256()}")

    assert status == 403
    assert body["code"] == "forbidden"


def test_admin_is_not_let_in_implicitly() -> None:
    assert call("/bookings", f"Bearer {hs256(role='admin')}")[0] == 403


def test_public_endpoint_ignores_the_header() -> None:
    assert call("/search", "Bearer garbage")[0] == 200


def test_someone_elses_resource_is_indistinguishable_from_a_missing_one() -> None:
    alice, admin = Principal("alice", Role.CUSTOMER), Principal("root", Role.ADMIN)

    ensure_visible_to(alice, "alice")
    ensure_visible_to(admin, "bob")
    with pytest.raises(Problem) as raised:
        ensure_visible_to(alice, "bob", "booking")

    assert raised.value.status == 404
    assert raised.value.body() == not_found("booking").body()


def test_a_request_whose_token_has_a_nul_in_its_subject_is_401() -> None:
    token = hs256(sub="alice\x00")

    status, body, headers = call("/bookings", f"Bearer {token}")

    assert status == 401
    assert body["code"] == "unauthorized"
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
