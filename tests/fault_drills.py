"""Fault drills on a running whole platform: crashes, a broker restart, a database outage, replicas that come and
go, and messages delivered twice. Each drill returns once the platform has its processes and servers back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from nats.js import JetStreamContext
from psycopg.conninfo import conninfo_to_dict

from bookings.domain.lifecycle import TRANSITIONAL, Status
from devstack.nats import EmbeddedNats
from tripline.messaging.envelope import MSG_ID_HEADER
from tripline_ops.client import ApiError

from .platform import on_jetstream, wait_for
from .whole_platform import WholePlatform

# Services whose outboxes carry the saga's commands, replies and events.
MESSENGERS = ("inventory", "payments", "bookings")


def crash_and_restart_web(whole: WholePlatform, service: str) -> None:
    """SIGKILL the service's web server mid-load; once the gateway finds nothing behind its routes, start it again
    on the port the gateway routes to."""
    whole.webs[service].kill()
    wait_for(lambda: _gateway_finds_nothing(whole, service), what=f"the gateway without {service}")
    whole.start_web(service)


def _gateway_finds_nothing(whole: WholePlatform, service: str) -> bool:
    try:
        whole.anonymous().request("GET", f"/openapi/{service}.json")
    except ApiError as error:
        return error.status == 502
    return False


def crash_and_restart_worker(whole: WholePlatform, service: str) -> None:
    """SIGKILL the service's worker mid-load (its unacknowledged deliveries come back after the ack wait), and start
    it again at once, as a supervisor would."""
    whole.workers[service].kill()
    whole.start_worker(service)


def restart_nats(nats_server: EmbeddedNats, down_seconds: float = 3) -> None:
    """Stop the broker for a while and start it again on the same port and store: clients reconnect by themselves."""
    nats_server.stop()
    time.sleep(down_seconds)
    nats_server.start()


@contextmanager
def database_unavailable(admin_url: str, database_url: str) -> Iterator[None]:
    """While inside, the service's database refuses connections, and the ones it had are cut."""
    database = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')


def replica_added_then_removed(whole: WholePlatform, service: str, serving_seconds: float = 3) -> None:
    """Another worker of the service joins its durable consumers for a while, then stops as a deploy would stop it."""
    replica = whole.extra_worker(service)
    time.sleep(serving_seconds)
    replica.stop()
    whole.platform.processes.remove(replica)


def deliver_again(whole: WholePlatform, since: datetime) -> int:
    """Deliver once more every message the messengers published since ``since``: the same envelope under a new
    ``Nats-Msg-Id``, so JetStream takes it as new and only the consumers' inboxes can tell. Returns how many."""
    messages: list[tuple[str, Any, dict[str, str]]] = []
    for service in MESSENGERS:
        rows = whole.platform.sql(
            service,
            "SELECT subject, envelope, headers FROM outbox WHERE published_at >= %s ORDER BY created_at",
            since,
        )
        messages += [
            (str(subject), envelope, dict(headers) | {MSG_ID_HEADER: str(uuid.uuid4())})
            for subject, envelope, headers in rows
        ]

    async def publish_all(js: JetStreamContext) -> None:
        for subject, envelope, headers in messages:
            await js.publish(subject, json.dumps(envelope).encode(), headers=headers)

    on_jetstream(whole.platform.env["NATS_URL"], publish_all)
    return len(messages)


def settled(whole: WholePlatform, timeout: float = 120) -> None:
    """Until nothing is left to happen: no booking in a transitional status, none reserved (its expiry timer is
    still to come, and would send a release while the audit reads), every message published and acknowledged."""
    waiting = [status.value for status in TRANSITIONAL | {Status.RESERVED}]

    def nothing_left_to_happen() -> bool:
        [(left,)] = whole.platform.sql("bookings", "SELECT count(*) FROM bookings WHERE status = ANY(%s)", waiting)
        return left == 0

    wait_for(nothing_left_to_happen, timeout=timeout, interval=0.5, what="every booking terminal or confirmed")
    whole.platform.wait_until_quiet(MESSENGERS, timeout=timeout)


def audit(whole: WholePlatform) -> subprocess.CompletedProcess[str]:
    """``make audit``'s command against the platform's databases, told it is quiet (``settled`` made it so): every
    ended booking is judged at once, with no grace for a release or refund still on its way."""
    # The platform's own timings (grace, sweeps), so the audit tolerates exactly what the services may still do.
    env = whole.platform.env | whole.env
    command = [sys.executable, "-m", "tripline_ops.audit", "--quiet"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def assert_audit_passes(whole: WholePlatform) -> str:
    """Settle, then audit: exit 0 and ``audit passed``; returns the report."""
    settled(whole)
    result = audit(whole)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit passed" in result.stdout, result.stdout
    return result.stdout
