"""Workers wait out NATS: started before NATS runs, and across a NATS restart, the round trip completes."""

from __future__ import annotations

from pathlib import Path

import requests

from devstack.nats import EmbeddedNats
from devstack.readiness import free_port
from tripline.auth.tokens import issue_dev_token

from .platform import Platform, wait_for

ADMIN = {"Authorization": f"Bearer {issue_dev_token('ops', 'admin')}"}


def _send_probe(bookings: str) -> str:
    return str(requests.post(f"{bookings}/admin/messaging-probes", headers=ADMIN, timeout=5).json()["id"])


def _wait_answered(bookings: str, probe_id: str) -> None:
    def answered_at() -> object:
        return requests.get(f"{bookings}/admin/messaging-probes/{probe_id}", headers=ADMIN, timeout=5).json()[
            "answered_at"
        ]

    wait_for(answered_at, timeout=30, what=f"probe {probe_id} answered")


def test_workers_started_before_nats_connect_once_it_runs_and_survive_its_restart(
    platform: Platform, tmp_path: Path
) -> None:
    nats_server = EmbeddedNats(tmp_path / "late-nats", port=free_port())
    env = {"NATS_URL": f"nats://127.0.0.1:{nats_server.port}"}
    platform.worker("inventory", **env)
    platform.worker("bookings", **env)
    bookings = platform.web("bookings", until="/healthz", **env)
    sent_before_nats = _send_probe(bookings)

    nats_server.start()
    try:
        _wait_answered(bookings, sent_before_nats)
        nats_server.stop()
        nats_server.start()
        _wait_answered(bookings, _send_probe(bookings))
    finally:
        platform.stop_all()
        nats_server.stop()
