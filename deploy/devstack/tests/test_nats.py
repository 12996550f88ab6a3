"""The embedded NATS: JetStream on 127.0.0.1, a free port, stoppable from another process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import psutil

from devstack.nats import EmbeddedNats
from devstack.readiness import http_ok


def test_starts_with_jetstream_on_a_free_loopback_port(embedded_nats: EmbeddedNats) -> None:
    assert embedded_nats.url.startswith("nats://127.0.0.1:")
    assert embedded_nats.port != 4222
    assert http_ok(embedded_nats.health_url)


def test_a_stream_accepts_and_acknowledges_a_message(embedded_nats: EmbeddedNats) -> None:
    async def publish() -> tuple[str, int]:
        client = await nats.connect(embedded_nats.url)
        try:
            jetstream = client.jetstream()
            await jetstream.add_stream(name="DEVSTACK_TEST", subjects=["devstack.test.>"])
            ack = await jetstream.publish("devstack.test.hello", b"{}", headers={"Nats-Msg-Id": "m-1"})
            return ack.stream, ack.seq
        finally:
            await client.close()

    assert asyncio.run(publish()) == ("DEVSTACK_TEST", 1)


def test_start_on_a_running_store_reuses_the_server(embedded_nats: EmbeddedNats) -> None:
    again = EmbeddedNats(embedded_nats.store_dir)
    assert again.start() is False
    assert (again.url, again.http_port) == (embedded_nats.url, embedded_nats.http_port)


def test_another_instance_can_stop_the_server_and_stop_is_idempotent(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    assert server.start() is True
    pid = server.server_pid()
    assert pid is not None

    assert EmbeddedNats(tmp_path / "nats").stop() is True  # as `down` does, from another process
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert server.stop() is False  # also reaps our own child
    assert not psutil.pid_exists(pid)
