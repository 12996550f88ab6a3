"""An operator sees a dead-lettered message (metric and CLI) and can discard or replay it."""

from __future__ import annotations

import json
import subprocess
import sys

import requests
from nats.js import JetStreamContext

from devstack.readiness import free_port

from .platform import Platform, on_jetstream, wait_for


async def _publish_garbage(js: JetStreamContext) -> None:
    await js.publish("inventory.cmd.probe", b"not an envelope", headers={"Nats-Msg-Id": "junk-1"})


def _metric(port: int, name: str) -> float | None:
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.ConnectionError:  # the worker is still starting
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def _cli(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inventory.entrypoints.cli", "dead-letters", *args],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_invalid_command_is_counted_listed_and_discarded(platform: Platform) -> None:
    metrics_port = free_port()
    platform.worker("inventory", WORKER_METRICS_PORT=str(metrics_port), DLQ_WATCH_SECONDS="0.2")
    wait_for(lambda: _metric(metrics_port, "tripline_dead_letters_pending") == 0, what="worker watching DLQ")

    on_jetstream(platform.env["NATS_URL"], _publish_garbage)

    wait_for(lambda: _metric(metrics_port, "tripline_dead_letters_pending") == 1, what="dead letter counted")
    listed = _cli(platform, "list")
    assert listed.returncode == 0, listed.stderr
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letter["original_subject"] == "inventory.cmd.probe"
    assert letter["consumer"] == "inventory-commands"
    assert "invalid message" in letter["reason"]
    assert letter["data"] == "not an envelope"

    assert _cli(platform, "discard", str(letter["sequence"])).returncode == 0
    assert _cli(platform, "list").stdout == ""
    wait_for(lambda: _metric(metrics_port, "tripline_dead_letters_pending") == 0, what="dead letter gone")
