"""Workers wait out NATS: started before NATS runs, and across a NATS restart, the round trip completes."""

from __future__ import annotations

from pathlib import Path

from devstack.nats import EmbeddedNats
from devstack.readiness import free_port

from .platform import Platform, answered_probe, send_probe, wait_for


def _wait_answered(bookings: str, probe_id: str) -> None:
    wait_for(lambda: answered_probe(bookings, probe_id), timeout=30, what=f"probe {probe_id} answered")


def test_workers_started_before_nats_connect_once_it_runs_and_survive_its_restart(
    platform: Platform, tmp_path: Path
) -> None:
    nats_server = EmbeddedNats(tmp_path / "late-nats", port=free_port())
    env = {"NATS_URL": f"nats://127.0.0.1:{nats_server.port}"}
    platform.worker("inventory", **env)
    platform.worker("bookings", **env)
    bookings = platform.web("bookings", until="/healthz", **env)
    sent_before_nats = send_probe(bookings)

    nats_server.start()
    try:
        _wait_answered(bookings, sent_before_nats)
        nats_server.stop()
        nats_server.start()
        _wait_answered(bookings, send_probe(bookings))
    finally:
        platform.stop_all()
        nats_server.stop()
