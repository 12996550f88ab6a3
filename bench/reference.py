"""The single-transaction reference: the same booking as the saga's (lock seats, debit the wallet, confirm), done
as a monolith would do it, in one local transaction on one database, behind a minimal HTTP endpoint.

It is deliberately as lean as the platform is careful: no outbox, no idempotency record, no token, so the ratio
the benchmark prints is an honest upper bound on what the saga costs.

``python -m bench.reference DATABASE_URL`` creates its tables and serves under gunicorn like the services.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import Engine, create_engine, text

FARE_MINOR = 90_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS ref_seats (
    schedule_id integer NOT NULL, seat_no text NOT NULL, status text NOT NULL DEFAULT 'free', booking_id uuid,
    PRIMARY KEY (schedule_id, seat_no));
CREATE TABLE IF NOT EXISTS ref_wallets (
    customer_id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS ref_bookings (
    id uuid PRIMARY KEY, customer_id text NOT NULL, schedule_id integer NOT NULL, seats text[] NOT NULL,
    total bigint NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""

_TAKE_SEATS = text("""
    UPDATE ref_seats SET status = 'sold', booking_id = :booking_id
    WHERE schedule_id = :schedule_id AND seat_no = ANY(:seats) AND status = 'free'
""")
_DEBIT = text("UPDATE ref_wallets SET balance = balance - :total WHERE customer_id = :customer AND balance >= :total")
_CONFIRM = text("""
    INSERT INTO ref_bookings (id, customer_id, schedule_id, seats, total, status)
    VALUES (:booking_id, :customer, :schedule_id, :seats, :total, 'confirmed')
""")
_CANCEL = text("""
    UPDATE ref_bookings SET status = 'cancelled' WHERE id = :booking_id AND status = 'confirmed'
    RETURNING customer_id, total
""")
_FREE_SEATS = text("UPDATE ref_seats SET status = 'free', booking_id = NULL WHERE booking_id = :booking_id")
_REFUND = text("UPDATE ref_wallets SET balance = balance + :total WHERE customer_id = :customer")


def prepare(engine: Engine, schedules: int, seats: list[str], customers: list[str], balance: int) -> None:
    """Empty tables with ``schedules`` departures of ``seats`` each and every customer's wallet at ``balance``."""
    with engine.begin() as connection:
        connection.exec_driver_sql(SCHEMA)
        connection.exec_driver_sql("TRUNCATE ref_seats, ref_wallets, ref_bookings")
        connection.exec_driver_sql(
            "INSERT INTO ref_seats (schedule_id, seat_no) SELECT s, seat FROM generate_series(0, %(last)s) s,"
            " unnest(%(seats)s::text[]) seat",
            {"last": schedules - 1, "seats": seats},
        )
        connection.execute(
            text("INSERT INTO ref_wallets (customer_id, balance) SELECT c, :balance FROM unnest(CAST(:c AS text[])) c"),
            {"balance": balance, "c": customers},
        )


def create_app(database_url: str) -> Flask:
    engine = create_engine(database_url, pool_size=16, max_overflow=0)
    app = Flask("reference")
    app.extensions["engine"] = engine

    @app.post("/bookings")
    def book() -> Any:
        body = request.get_json()
        booking_id, seats = uuid.uuid4(), list(body["seats"])
        values = {"booking_id": booking_id, "schedule_id": body["schedule_id"], "seats": seats,
                  "customer": body["customer_id"], "total": FARE_MINOR * len(seats)}  # fmt: skip
        with engine.connect() as connection, connection.begin() as transaction:
            if connection.execute(_TAKE_SEATS, values).rowcount < len(seats):
                transaction.rollback()
                return jsonify(code="seats_unavailable"), 409
            if connection.execute(_DEBIT, values).rowcount == 0:
                transaction.rollback()
                return jsonify(code="insufficient_funds"), 409
            connection.execute(_CONFIRM, values)
        return jsonify(id=str(booking_id), status="confirmed"), 201

    @app.post("/bookings/<uuid:booking_id>/cancel")
    def cancel(booking_id: uuid.UUID) -> Any:
        with engine.begin() as connection:
            row = connection.execute(_CANCEL, {"booking_id": booking_id}).one_or_none()
            if row is None:
                return jsonify(code="invalid_state"), 409
            connection.execute(_FREE_SEATS, {"booking_id": booking_id})
            connection.execute(_REFUND, {"customer": row.customer_id, "total": row.total})
        return jsonify(id=str(booking_id), status="cancelled"), 200

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
