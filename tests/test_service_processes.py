"""Each service's web and worker processes, started as in production, answer and stop as operators expect."""

from __future__ import annotations

import pytest
import requests
from nats.js import JetStreamContext

from bookings.config import MIGRATIONS_DIR as BOOKINGS_MIGRATIONS
from payments.config import MIGRATIONS_DIR as PAYMENTS_MIGRATIONS
from tripline.migrations import head_revision

from .platform import SERVICES, Platform, on_jetstream, wait_for

OWNED_STREAMS = {
    "inventory": {"INVENTORY_CMD", "INVENTORY_EVT"},
    "bookings": {"BOOKINGS_EVT"},
    "payments": {"PAYMENTS_CMD", "PAYMENTS_EVT"},
    "search": set(),
}


@pytest.mark.parametrize("service", SERVICES)
def test_web_answers_health_readiness_openapi_and_metrics(platform: Platform, service: str) -> None:
    url = platform.web(service)

    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok", "service": service}
    ready = requests.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "nats": "ok"}
    document = requests.get(f"{url}/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.1")
    metrics = requests.get(f"{url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert "process_cpu_seconds_total" in metrics.text


@pytest.mark.parametrize("service", SERVICES)
def test_web_errors_are_problem_details(platform: Platform, service: str) -> None:
    url = platform.web(service)

    missing = requests.get(f"{url}/v1/nothing-here", timeout=5)
    wrong_method = requests.delete(f"{url}/healthz", timeout=5)

    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Content-Type"] == "application/problem+json"
    assert "X-Request-ID" in missing.headers


def test_readiness_fails_until_the_database_is_migrated(platform: Platform, fresh_database_url: str) -> None:
    url = platform.web("payments", PAYMENTS_DATABASE_URL=fresh_database_url, until="/healthz")

    ready = requests.get(f"{url}/readyz", timeout=5)

    assert ready.status_code == 503
    expected = head_revision(PAYMENTS_MIGRATIONS)
    assert ready.json()["checks"]["migrations"] == f"not migrated (expected {expected})"


def test_readiness_fails_while_nats_is_unreachable(platform: Platform) -> None:
    url = platform.web("search", NATS_URL="nats://127.0.0.1:9", until="/healthz")

    ready = requests.get(f"{url}/readyz", timeout=5)

    assert ready.status_code == 503
    assert ready.json()["checks"]["nats"] == "unreachable"


@pytest.mark.parametrize("service", SERVICES)
def test_worker_declares_its_streams_and_drains_on_sigterm(platform: Platform, service: str) -> None:
    worker = platform.worker(service)
    expected = OWNED_STREAMS[service] | {"DLQ"}

    wait_for(lambda: expected <= on_jetstream(platform.env["NATS_URL"], _stream_names), what=f"{service} streams")

    assert worker.stop() == 0, worker.log()


async def _stream_names(js: JetStreamContext) -> set[str]:
    return {info.config.name for info in await js.streams_info()}


def test_readiness_tolerates_a_newer_schema_but_not_an_older_one(platform: Platform) -> None:
    """During a rolling deploy the old release keeps serving a migrated database; a new one waits for it."""
    head = head_revision(BOOKINGS_MIGRATIONS)
    try:  # a fresh web process for each schema: readiness answers are cached for a couple of seconds
        platform.sql("bookings", "UPDATE alembic_version SET version_num = '9999'")
        newer = requests.get(f"{platform.web('bookings', until='/healthz')}/readyz", timeout=5)
        platform.sql("bookings", "UPDATE alembic_version SET version_num = '0001'")
        older = requests.get(f"{platform.web('bookings', until='/healthz')}/readyz", timeout=5)
    finally:
        platform.sql("bookings", "UPDATE alembic_version SET version_num = %s", head)

    assert newer.status_code == 200
    assert older.status_code == 503
    assert older.json()["checks"]["migrations"] == f"behind: at 0001, expected {head}"
