"""A real round trip: bookings' HTTP request → outbox → relay → NATS → inventory → reply → bookings."""

from __future__ import annotations

import time

import pytest
from nats.js import JetStreamContext

from .platform import Platform, answered_probe, on_jetstream, send_probe, wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def _command_deliveries(js: JetStreamContext) -> int:
    """How many stored commands inventory's consumer has been handed (its delivered stream sequence)."""
    return int((await js.consumer_info("INVENTORY_CMD", "inventory-commands")).delivered.stream_seq)


def _start_inventory(platform: Platform, **env: str) -> None:
    platform.ready_worker("inventory", **env)


def test_probe_travels_to_inventory_and_its_answer_comes_back_once(platform: Platform) -> None:
    _start_inventory(platform)
    bookings = platform.web("bookings")
    platform.worker("bookings")

    probe_id = send_probe(bookings, traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    probe = wait_for(lambda: answered_probe(bookings, probe_id), what="probe answered")

    assert probe["answers"] == 1  # type: ignore[index]
    assert platform.sql("bookings", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(0,)]
    # The caller's trace rides from the HTTP request into the command, and from there into inventory's reply.
    (command_trace,) = platform.sql("bookings", "SELECT headers->>'traceparent' FROM outbox")[0]
    (reply_trace,) = platform.sql("inventory", "SELECT headers->>'traceparent' FROM outbox")[0]
    assert str(command_trace).split("-")[1] == TRACE_ID
    assert str(reply_trace).split("-")[1] == TRACE_ID
    assert reply_trace != command_trace  # inventory handled it in a span of its own
    assert platform.sql("inventory", "SELECT consumer, message_type FROM inbox") == [
        ("inventory-commands", "inventory.probe")
    ]


@pytest.mark.parametrize("duplicate_window", ["600", "1"], ids=["within-duplicate-window", "past-duplicate-window"])
def test_relay_killed_after_publishing_before_marking_leads_to_one_effect(
    platform: Platform, duplicate_window: str
) -> None:
    _start_inventory(platform, NATS_DUPLICATE_WINDOW_SECONDS=duplicate_window)
    bookings = platform.web("bookings")
    probe_id = send_probe(bookings)

    crashing = platform.worker("bookings", TRIPLINE_FAILPOINTS="relay.after_publish")
    assert crashing.wait_exit() == -9  # SIGKILL, between JetStream's ack and the outbox update
    assert platform.sql("bookings", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(1,)]
    if duplicate_window == "1":
        # Past the window JetStream stores the second publish too; only the inbox stands between it and a
        # second effect.
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started > 1.5, what="duplicate window passed")

    platform.worker("bookings")
    probe = wait_for(lambda: answered_probe(bookings, probe_id), what="probe answered")
    wait_for(
        lambda: platform.sql("bookings", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(0,)],
        what="outbox marked",
    )

    assert probe["answers"] == 1  # type: ignore[index]
    # Within the window JetStream dropped the second publish; past it, both copies reached inventory.
    assert on_jetstream(platform.env["NATS_URL"], _command_deliveries) == (2 if duplicate_window == "1" else 1)
    assert platform.sql("inventory", "SELECT count(*) FROM outbox WHERE message_type = 'inventory.probe_answered'") == [
        (1,)
    ]
