"""Inventory's worker and web together on real PostgreSQL and NATS: supply through the API, holds through JetStream."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from nats.js import JetStreamContext

from tripline.auth.tokens import issue_dev_token
from tripline.contracts.inventory import ReserveInventory
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import MSG_ID_HEADER, Envelope
from tripline_ops.client import seat_labels

from .platform import ADMIN, Platform, on_jetstream, wait_for

SEATS = seat_labels()  # 40 seats


def bearer(sub: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(sub, role)}"}


@dataclass
class Inventory:
    """Inventory's web and worker, and the NATS they share."""

    platform: Platform
    url: str

    def call(self, method: str, path: str, headers: dict[str, str], body: object = None, expect: int = 200) -> Any:
        response = requests.request(method, self.url + path, json=body, headers=headers, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def approved_schedule(self) -> str:
        """A 40-seat schedule of an approved operator, created the way an operator and an admin would."""
        operator = bearer(f"operator-{uuid.uuid4().hex[:8]}", "operator")
        operator_id = self.call(
            "POST", "/v1/operators", operator, {"name": "Konkan", "contact_email": "o@k.example"}, 201
        )["id"]
        self.call("POST", f"/v1/operators/{operator_id}/approve", ADMIN, {"note": "documents checked"})
        bus = {"operator_id": operator_id, "registration": f"MH-{uuid.uuid4().hex[:6]}", "bus_type": "seater",
               "amenities": ["ac"], "seats": SEATS}  # fmt: skip
        bus_id = self.call("POST", "/v1/buses", operator, bus, 201)["id"]
        departs = datetime.now(UTC) + timedelta(days=2)
        schedule = {"bus_id": bus_id, "origin": "Mumbai", "destination": "Goa", "departs_at": departs.isoformat(),
                    "arrives_at": (departs + timedelta(hours=10)).isoformat(),
                    "fare": {"amount_minor": 90_000, "currency": "INR"}}  # fmt: skip
        return str(self.call("POST", "/v1/schedules", operator, schedule, 201)["id"])

    def seat_map(self, schedule_id: str) -> dict[str, str]:
        schedule = self.call("GET", f"/v1/schedules/{schedule_id}", bearer("someone", "customer"))
        return {seat["seat"]: seat["status"] for seat in schedule["seat_map"]}

    def publish(self, *envelopes: Envelope) -> None:
        """Publish commands as bookings' relay does: ``Nats-Msg-Id`` = envelope id."""

        async def publish_all(js: JetStreamContext) -> None:
            acks = [js.publish_async(_subject(e), e.to_bytes(), headers={MSG_ID_HEADER: str(e.id)}) for e in envelopes]
            await asyncio.gather(*(await asyncio.gather(*acks)))

        on_jetstream(self.platform.env["NATS_URL"], publish_all)

    def replies(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Published hold events, by booking id."""
        rows = self.platform.sql(
            "inventory",
            "SELECT subject, envelope FROM outbox WHERE subject LIKE 'inventory.evt.hold.%%'"
            " AND published_at IS NOT NULL ORDER BY created_at",
        )
        replies: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for subject, envelope in rows:
            payload = envelope["payload"]  # type: ignore[index]
            replies.setdefault(payload["booking_id"], []).append((str(subject).rsplit(".", 1)[1], payload))
        return replies


def _subject(envelope: Envelope) -> str:
    return Contract.lookup(envelope.type, envelope.version).SUBJECT


def reserve(booking_id: uuid.UUID, schedule_id: str, seats: list[str], hold_seconds: int = 600) -> Envelope:
    command = ReserveInventory.model_validate(
        {
            "booking_id": booking_id,
            "hold_seconds": hold_seconds,
            "items": [{"type": "bus_seats", "schedule_id": schedule_id, "seats": seats}],
        }
    )
    return Envelope.wrap(command, source="bookings", correlation_id=str(booking_id))


def start_inventory(platform: Platform, **env: str) -> Inventory:
    url = platform.web("inventory")
    platform.ready_worker("inventory", **env)
    return Inventory(platform, url)


def test_fifty_concurrent_reserves_through_nats_hold_no_seat_twice_and_all_are_answered(platform: Platform) -> None:
    inventory = start_inventory(platform)
    schedule_id = inventory.approved_schedule()
    wanted = {uuid.uuid4(): [SEATS[(n * 3 + k) % 40] for k in range(2)] for n in range(50)}

    inventory.publish(*(reserve(booking, schedule_id, seats) for booking, seats in wanted.items()))

    replies = wait_for(lambda: (r := inventory.replies()) and len(r) == 50 and r, what="50 replies")
    assert isinstance(replies, dict)
    assert all(len(answers) == 1 for answers in replies.values())
    reserved = [booking for booking in wanted if replies[str(booking)][0][0] == "reserved"]
    held_by = dict(platform.sql("inventory", "SELECT seat_no, hold_id FROM seats WHERE status = 'held'"))
    assert len(held_by) == 2 * len(reserved)
    assert all(held_by[seat] == booking for booking in reserved for seat in wanted[booking])
    seat_map = inventory.seat_map(schedule_id)
    assert {seat for seat, status in seat_map.items() if status == "held"} == set(held_by)


def test_duplicate_and_resent_commands_through_nats_have_one_effect(platform: Platform) -> None:
    inventory = start_inventory(platform)
    schedule_id = inventory.approved_schedule()
    booking = uuid.uuid4()
    first = reserve(booking, schedule_id, ["1A"])

    inventory.publish(first, first, reserve(booking, schedule_id, ["1A"]))  # same id twice, then a resend

    wait_for(lambda: len(inventory.replies().get(str(booking), [])) == 2, what="two replies")
    answers = inventory.replies()[str(booking)]
    assert [kind for kind, _ in answers] == ["reserved", "reserved"]
    assert answers[0][1] == answers[1][1]
    assert platform.sql("inventory", "SELECT count(*) FROM seats WHERE status = 'held'") == [(1,)]


def test_the_worker_expires_lapsed_holds_and_frees_their_seats(platform: Platform) -> None:
    inventory = start_inventory(platform, HOLD_GRACE_SECONDS="0", HOLD_SWEEP_SECONDS="0.2")
    schedule_id = inventory.approved_schedule()
    booking = uuid.uuid4()

    inventory.publish(reserve(booking, schedule_id, ["2B"], hold_seconds=1))

    wait_for(
        lambda: [k for k, _ in inventory.replies().get(str(booking), [])] == ["reserved", "expired"], what="expiry"
    )
    assert inventory.seat_map(schedule_id)["2B"] == "available"


def test_a_worker_killed_mid_stream_answers_every_command_once_after_restart(platform: Platform) -> None:
    inventory = start_inventory(platform)
    schedule_id = inventory.approved_schedule()
    worker = platform.processes[-1]
    wanted = {uuid.uuid4(): [SEATS[n % 40]] for n in range(60)}

    inventory.publish(*(reserve(booking, schedule_id, seats) for booking, seats in wanted.items()))
    wait_for(lambda: inventory.replies(), what="some replies before the crash")
    worker.kill()
    platform.ready_worker("inventory")

    replies = wait_for(lambda: (r := inventory.replies()) and len(r) == 60 and r, timeout=60, what="60 replies")
    assert isinstance(replies, dict)
    assert all(len(answers) == 1 for answers in replies.values())
    kinds = [answers[0][0] for answers in replies.values()]
    assert kinds.count("reserved") == 40
    assert kinds.count("rejected") == 20
    assert platform.sql("inventory", "SELECT available_seats FROM schedules") == [(0,)]
