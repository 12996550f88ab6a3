"""The single-transaction reference keeps the same promises as the saga it is compared with: a seat is sold once,
a booking is paid once from money the customer has, and a cancellation gives both back, all in one transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from bench.reference import FARE_MINOR, create_app, prepare


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_database_url)
    prepare(engine, schedules=2, seats=["1A", "1B"], customers=["asha", "ravi"], balance=FARE_MINOR)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine, fresh_database_url: str) -> Iterator[FlaskClient]:
    app = create_app(fresh_database_url)
    yield app.test_client()
    app.extensions["engine"].dispose()


def balance(engine: Engine, customer: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT balance FROM ref_wallets WHERE customer_id = :c"), {"c": customer})
                   .scalar_one())  # fmt: skip


def book(client: FlaskClient, customer: str, *seats: str, schedule: int = 0) -> tuple[int, str]:
    answer = client.post("/bookings", json={"customer_id": customer, "schedule_id": schedule, "seats": list(seats)})
    return answer.status_code, answer.json["id"] if answer.status_code == 201 else answer.json["code"]  # type: ignore[index]


def test_a_booking_takes_the_seat_and_the_money_at_once(client: FlaskClient, engine: Engine) -> None:
    assert book(client, "asha", "1A")[0] == 201
    assert balance(engine, "asha") == 0
    assert book(client, "ravi", "1A") == (409, "seats_unavailable")
    assert balance(engine, "ravi") == FARE_MINOR


def test_a_booking_without_the_money_takes_nothing(client: FlaskClient, engine: Engine) -> None:
    assert book(client, "asha", "1A", "1B") == (409, "insufficient_funds")
    assert book(client, "ravi", "1A", "1B") == (409, "insufficient_funds")
    assert book(client, "ravi", "1B")[0] == 201  # both seats were still free


def test_a_cancellation_frees_the_seat_and_refunds_once(client: FlaskClient, engine: Engine) -> None:
    _, booking_id = book(client, "asha", "1A", schedule=1)

    assert client.post(f"/bookings/{booking_id}/cancel").status_code == 200
    assert client.post(f"/bookings/{booking_id}/cancel").status_code == 409
    assert balance(engine, "asha") == FARE_MINOR
    assert book(client, "ravi", "1A", schedule=1)[0] == 201
