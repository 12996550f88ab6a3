"""Running Tripline's real processes in tests: provisioned databases, workers and web servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import requests
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from devstack.gateway import caddy_run_command, write_caddyfile
from devstack.readiness import free_port, http_ok
from tripline.auth.tokens import issue_dev_token
from tripline.testing import truncate_every_table
from tripline_ops.jetstream import caught_up, on_jetstream, quiet_twice, stream_marks

SERVICES = ("inventory", "bookings", "payments", "search")
ADMIN = {"Authorization": f"Bearer {issue_dev_token('ops', 'admin')}"}
T = TypeVar("T")


async def has_stream(js: JetStreamContext, name: str) -> bool:
    """Whether JetStream has a stream called ``name``."""
    try:
        await js.stream_info(name)
    except NotFoundError:
        return False
    return True


def clean_platform(database_urls: dict[str, str], nats_url: str, log_dir: Path) -> Platform:
    """A platform on empty databases and a JetStream without streams, its processes' settings quick for tests."""
    for url in database_urls.values():
        truncate_every_table(url)
    on_jetstream(nats_url, delete_every_stream)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TRIPLINE_FAILPOINTS")}
    env |= {f"{service.upper()}_DATABASE_URL": url for service, url in database_urls.items()}
    # A crashed worker's unacknowledged deliveries come back after the ack wait: short here, 30 s by default.
    env |= {"NATS_URL": nats_url, "OUTBOX_RELAY_POLL_SECONDS": "0.2", "NATS_ACK_WAIT_SECONDS": "2", "LOG_LEVEL": "info"}
    return Platform(env=env, database_urls=database_urls, log_dir=log_dir)


async def delete_every_stream(js: JetStreamContext) -> None:
    for stream in await js.streams_info():
        await js.delete_stream(stream.config.name)


def send_probe(bookings: str, **headers: str) -> str:
    """Ask bookings to send a messaging probe through inventory; returns its id."""
    response = requests.post(f"{bookings}/admin/messaging-probes", headers=ADMIN | headers, timeout=5)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def answered_probe(bookings: str, probe_id: str) -> dict[str, Any] | None:
    """The probe once its answer has come back, else None."""
    probe: dict[str, Any] = requests.get(
        f"{bookings}/admin/messaging-probes/{probe_id}", headers=ADMIN, timeout=5
    ).json()
    return probe if probe["answered_at"] else None


def call(
    method: str, url: str, headers: Mapping[str, str] | None = None, body: Any = None, expect: int | None = 200
) -> Any:
    """One request; its JSON body once its status is ``expect`` (None: whatever the status)."""
    response = requests.request(method, url, json=body, headers=dict(headers or {}), timeout=40)
    if expect is not None:
        assert response.status_code == expect, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def wait_for(
    condition: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> object:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)


@dataclass
class Process:
    """One platform process, its output captured in a log file for failure reports."""

    name: str
    command: list[str]
    env: Mapping[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command, env=dict(self.env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it does not finish in time."""
        assert self.popen is not None
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.wait()

    def kill(self) -> None:
        """SIGKILL, the crash that leaves no chance to clean up."""
        assert self.popen is not None
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Platform:
    """Databases provisioned and migrated once per session; processes started per test."""

    env: dict[str, str]
    database_urls: dict[str, str]
    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def worker(self, service: str, **extra_env: str) -> Process:
        """Start ``python -m <service>.entrypoints.worker``."""
        command = [sys.executable, "-m", f"{service}.entrypoints.worker"]
        return self._start(f"{service}-worker", command, extra_env)

    def ready_worker(self, service: str, **extra_env: str) -> Process:
        """Start a worker and return once the command stream it owns is declared."""
        process = self.worker(service, **extra_env)
        stream = f"{service.upper()}_CMD"
        wait_for(lambda: on_jetstream(self.env["NATS_URL"], lambda js: has_stream(js, stream)), what=f"{stream}")
        return process

    def web(self, service: str, *, until: str = "/readyz", **extra_env: str) -> str:
        """Start the service under gunicorn; returns its base URL once ``until`` answers 200."""
        port = free_port()
        self.serve(service, port, until=until, **extra_env)
        return f"http://127.0.0.1:{port}"

    def serve(self, service: str, port: int, *, until: str = "/readyz", **extra_env: str) -> Process:
        """Start the service under gunicorn on ``port`` (again, after a crash); returns once ``until`` answers."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:tripline.http.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            f"{service}.entrypoints.api:create_app()",
        ]
        process = self._start(f"{service}-web", command, extra_env)
        return _started(process, f"http://127.0.0.1:{port}{until}")

    def gateway(self, service_ports: Mapping[str, int]) -> str:
        """Caddy in front of the services' ports, routed as the local stack routes them; returns its URL."""
        port = free_port()
        caddyfile = write_caddyfile(self.log_dir / "Caddyfile", port, service_ports, self.log_dir / "gateway")
        _started(self._start("gateway", caddy_run_command(caddyfile), {}), f"http://127.0.0.1:{port}/healthz")
        return f"http://127.0.0.1:{port}"

    def sql(self, service: str, query: str, *params: object) -> list[tuple[object, ...]]:
        """Run a query on a service's database, as that service's own role."""
        with psycopg.connect(self.database_urls[service]) as connection:
            cursor = connection.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def wait_until_quiet(
        self, messengers: Sequence[str], *, consumers: Sequence[str] = (), timeout: float = 30, what: str = ""
    ) -> None:
        """Until the ``messengers``' outboxes are all published and every consumer (``consumers`` among them, once
        they exist) has acknowledged everything, twice running.

        Twice, with nothing published in between: a handler that commits its reply just after one look is seen
        in the next, either as an unpublished row or as a stream that moved on.
        """
        settled = quiet_twice(lambda: self._activity(messengers, consumers))
        wait_for(settled, timeout=timeout, interval=0.3, what=what or "every message published and acknowledged")

    def dead_letters(self) -> int:
        """Messages some consumer gave up on."""

        async def count(js: JetStreamContext) -> int:
            return int((await js.stream_info("DLQ")).state.messages)

        return on_jetstream(self.env["NATS_URL"], count)

    def _activity(self, messengers: Sequence[str], required: Sequence[str]) -> tuple[bool, tuple[Any, ...]]:
        outboxes = tuple(
            self.sql(service, "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox")[0]
            for service in messengers
        )
        streams, consumers = on_jetstream(self.env["NATS_URL"], stream_marks)
        idle = (
            all(unpublished == 0 for _, unpublished in outboxes)
            and set(required) <= {name for name, _, _ in consumers}
            and caught_up(consumers)
        )
        return idle, (outboxes, streams)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def _start(self, name: str, command: list[str], extra_env: Mapping[str, str]) -> Process:
        process = Process(name, command, self.env | dict(extra_env), self.log_dir / f"{name}.log").start()
        self.processes.append(process)
        return process


def _started(process: Process, ready_url: str) -> Process:
    """The process, once ``ready_url`` answers 200; fails with its log if it dies first."""
    assert process.popen is not None
    # Generous: a restart during a load shares two cores with every other process of the platform.
    wait_for(lambda: http_ok(ready_url) or process.popen.poll() is not None, timeout=60, what=ready_url)  # type: ignore[union-attr]
    assert process.popen.poll() is None, process.log()
    return process
