"""``Idempotency-Key`` semantics from the public contract, against a real PostgreSQL table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, func, insert, select, update

from tripline.auth.access import install_auth, requires_role
from tripline.auth.tokens import Role, TokenVerifier, issue_dev_token
from tripline.db import make_session_factory
from tripline.http.idempotency import (
    Claim,
    IdempotencyStore,
    IdempotentRequest,
    StoredResponse,
    idempotent,
    idempotent_resource_id,
)
from tripline.http.problems import Problem, conflict, install_problem_handlers
from tripline.http.validation import ApiModel, parse_body
from tripline.settings import AuthSettings
from tripline.timestamps import utcnow
from tripline.worker import purge_expired_keys

from .conftest import effects, plumbing


class Order(ApiModel):
    n: int


class Gate:
    """Holds a request inside its view until the test lets it go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


def _app(engine: Engine, gate: Gate) -> Flask:
    app = Flask("idempotency-test")
    install_problem_handlers(app)
    install_auth(app, TokenVerifier(AuthSettings()))
    store = IdempotencyStore(make_session_factory(engine), plumbing.idempotency_requests)
    app.extensions["tripline"] = SimpleNamespace(idempotency=store)

    @app.post("/orders")
    @requires_role(Role.CUSTOMER)
    @idempotent
    def place_order():  # type: ignore[no-untyped-def]
        order = parse_body(Order)
        if order.n == 409:
            raise conflict("invalid_state", "That cannot happen now.")
        if order.n == 777:
            gate.entered.set()
            gate.release.wait(10)
        with engine.begin() as connection:
            seq = connection.execute(insert(effects).values(message_id=str(order.n)).returning(effects.c.seq)).scalar()
        return jsonify(seq=seq, n=order.n), 201, {"Location": f"/orders/{seq}"}

    return app


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def client(engine: Engine, gate: Gate) -> Iterator[FlaskClient]:
    yield _app(engine, gate).test_client()
    gate.release.set()


def _headers(key: str | None = "k-1", sub: str = "alice") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {issue_dev_token(sub, 'customer')}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _effects(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(effects)).scalar_one())


def test_a_missing_key_is_refused(client: FlaskClient, engine: Engine) -> None:
    response = client.post("/orders", json={"n": 1}, headers=_headers(key=None))

    assert response.status_code == 400
    assert response.json["code"] == "idempotency_key_missing"  # type: ignore[index]
    assert _effects(engine) == 0


def test_an_overlong_key_is_refused(client: FlaskClient) -> None:
    response = client.post("/orders", json={"n": 1}, headers=_headers(key="k" * 256))

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "Idempotency-Key"  # type: ignore[index]


def test_a_retry_replays_the_first_response_without_a_second_effect(client: FlaskClient, engine: Engine) -> None:
    first = client.post("/orders", json={"n": 1}, headers=_headers())
    again = client.post("/orders", json={"n": 1}, headers=_headers())

    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _effects(engine) == 1


def test_the_same_key_with_another_body_is_422(client: FlaskClient, engine: Engine) -> None:
    client.post("/orders", json={"n": 1}, headers=_headers())
    response = client.post("/orders", json={"n": 2}, headers=_headers())

    assert response.status_code == 422
    assert response.json["code"] == "idempotency_key_reused"  # type: ignore[index]
    assert _effects(engine) == 1


def test_keys_are_scoped_to_the_caller(client: FlaskClient, engine: Engine) -> None:
    client.post("/orders", json={"n": 1}, headers=_headers(sub="alice"))
    response = client.post("/orders", json={"n": 1}, headers=_headers(sub="bob"))

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert _effects(engine) == 2


def test_a_validation_failure_is_not_stored_so_the_key_can_be_reused(client: FlaskClient, engine: Engine) -> None:
    invalid = client.post("/orders", json={"n": "many"}, headers=_headers())
    fixed = client.post("/orders", json={"n": 3}, headers=_headers())

    assert invalid.status_code == 400
    assert fixed.status_code == 201
    assert _effects(engine) == 1


def test_a_body_not_sent_as_json_is_not_stored_so_the_key_can_be_reused(client: FlaskClient, engine: Engine) -> None:
    not_json = client.post("/orders", data=b'{"n": 3}', content_type="text/plain", headers=_headers())
    fixed = client.post("/orders", json={"n": 3}, headers=_headers())

    assert not_json.status_code == 415
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert _effects(engine) == 1


def test_a_conflict_is_an_answer_and_is_replayed(client: FlaskClient) -> None:
    first = client.post("/orders", json={"n": 409}, headers=_headers())
    again = client.post("/orders", json={"n": 409}, headers=_headers())

    assert first.status_code == again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json["code"] == "invalid_state"  # type: ignore[index]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_while_the_first_request_runs_is_409_with_retry_after(engine: Engine, gate: Gate) -> None:
    app = _app(engine, gate)
    first: dict[str, object] = {}
    running = threading.Thread(
        target=lambda: first.update(response=app.test_client().post("/orders", json={"n": 777}, headers=_headers()))
    )
    running.start()
    assert gate.entered.wait(10)

    concurrent = app.test_client().post("/orders", json={"n": 777}, headers=_headers())
    gate.release.set()
    running.join(10)

    assert concurrent.status_code == 409
    assert concurrent.json["code"] == "idempotency_key_in_use"  # type: ignore[index]
    assert int(concurrent.headers["Retry-After"]) >= 1
    assert first["response"].status_code == 201  # type: ignore[attr-defined]
    assert _effects(engine) == 1


def test_an_abandoned_claim_can_be_taken_over_once_its_lease_ran_out(client: FlaskClient, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(plumbing.idempotency_requests).values(
                account_id="alice",
                key="k-1",
                method="POST",
                path="/orders",
                fingerprint=_fingerprint_of({"n": 5}),
                state="in_progress",
                locked_until=utcnow() - timedelta(seconds=1),
                expires_at=utcnow() + timedelta(hours=24),
            )
        )

    response = client.post("/orders", json={"n": 5}, headers=_headers())

    assert response.status_code == 201
    assert _effects(engine) == 1


def test_an_expired_key_starts_afresh(client: FlaskClient, engine: Engine) -> None:
    client.post("/orders", json={"n": 1}, headers=_headers())
    with engine.begin() as connection:
        connection.execute(update(plumbing.idempotency_requests).values(expires_at=utcnow() - timedelta(seconds=1)))

    response = client.post("/orders", json={"n": 2}, headers=_headers())

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert _effects(engine) == 2


def test_concurrent_identical_requests_have_one_effect(engine: Engine, gate: Gate) -> None:
    app = _app(engine, gate)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/orders", json={"n": 8}, headers=_headers()).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert _effects(engine) == 1


def test_the_worker_purges_keys_past_their_retention(client: FlaskClient, engine: Engine) -> None:
    client.post("/orders", json={"n": 1}, headers=_headers(key="old"))
    client.post("/orders", json={"n": 2}, headers=_headers(key="fresh"))
    with engine.begin() as connection:
        connection.execute(
            update(plumbing.idempotency_requests)
            .where(plumbing.idempotency_requests.c.key == "old")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    purged = purge_expired_keys(make_session_factory(engine), plumbing)

    assert purged == 1
    with engine.connect() as connection:
        keys = connection.execute(select(plumbing.idempotency_requests.c.key)).scalars().all()
    assert keys == ["fresh"]


def test_a_first_request_finishing_after_a_takeover_cannot_overwrite_the_new_claim(engine: Engine) -> None:
    store = IdempotencyStore(make_session_factory(engine), plumbing.idempotency_requests)
    request = IdempotentRequest("alice", "k-1", "POST", "/orders", b'{"n": 1}')
    slow = store.begin(request)
    with engine.begin() as connection:  # the slow request outlives its lease
        connection.execute(update(plumbing.idempotency_requests).values(locked_until=utcnow() - timedelta(seconds=1)))
    retry = store.begin(request)
    assert isinstance(slow, Claim)
    assert isinstance(retry, Claim)

    store.complete(request, slow, StoredResponse(201, {}, b"from the slow one"))
    store.release(request, slow)
    with pytest.raises(Problem, match="idempotency_key_in_use"):  # still the retry's, still running
        store.begin(request)
    store.complete(request, retry, StoredResponse(201, {}, b"from the retry"))

    replayed = store.begin(request)
    assert isinstance(replayed, StoredResponse)
    assert replayed.body == b"from the retry"


def test_a_rerun_of_the_same_key_derives_the_same_resource_id(engine: Engine, gate: Gate) -> None:
    app = _app(engine, gate)

    @app.post("/things")
    @requires_role(Role.CUSTOMER)
    @idempotent
    def create_thing():  # type: ignore[no-untyped-def]
        return jsonify(id=str(idempotent_resource_id("thing"))), 201

    client = app.test_client()
    first = client.post("/things", json={}, headers=_headers(key="t-1")).json
    with engine.begin() as connection:  # as if the record had been lost after the effect committed
        connection.execute(delete(plumbing.idempotency_requests))
    rerun = client.post("/things", json={}, headers=_headers(key="t-1")).json
    other = client.post("/things", json={}, headers=_headers(key="t-2")).json
    someone_else = client.post("/things", json={}, headers=_headers(key="t-1", sub="bob")).json

    assert first == rerun
    assert other != first
    assert someone_else != first


def _fingerprint_of(body: dict[str, int]) -> str:
    import json

    raw = json.dumps(body).encode()
    return IdempotentRequest("alice", "k-1", "POST", "/orders", raw).fingerprint
