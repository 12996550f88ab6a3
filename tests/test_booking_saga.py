"""The booking saga across the real services: inventory, payments and bookings as workers and web servers on
PostgreSQL and NATS, driven through their HTTP APIs as customers, suppliers and admins drive them.

Each journey ends where the contract says (confirmed, reserved with a failure, expired, cancelled with the refund
its policy gives, failed), with the wallet and the seat map to match. Messages delivered again, a payment landing
after expiry and a hold that lapsed while the money was taken change no one's money and hold no seat. Fifty
concurrent requests under one ``Idempotency-Key`` make one booking.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from nats.js import JetStreamContext

from tripline.contracts.payments import DebitWallet, debit_key
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import MSG_ID_HEADER, Envelope

from .booking_journeys import FARE, RATE, Journeys, bus_seats, customer, hotel_rooms, start, stop_together
from .platform import Platform, on_jetstream, wait_for

ASHA, RAVI = "cust-asha", "cust-ravi"
# Reserved bookings held for ten seconds (the least bookings allows), not ten minutes.
SHORT_HOLD = {"BOOKING_HOLD_TTL_SECONDS": "10"}
# Inventory lets a lapsed hold go at once, not after the default two minutes' grace.
NO_GRACE = {"HOLD_GRACE_SECONDS": "0", "HOLD_SWEEP_SECONDS": "0.2"}
# The messages of the saga: bookings' commands, and inventory's and payments' replies to them.
SAGA_MESSAGES = {
    "bookings": "subject LIKE 'inventory.cmd.%%' OR subject LIKE 'payments.cmd.%%'",
    "inventory": "subject LIKE 'inventory.evt.hold.%%'",
    "payments": "subject LIKE 'payments.evt.%%'",
}


@pytest.fixture(autouse=True)
def _processes_stopped_together(platform: Platform) -> Iterator[None]:
    yield
    stop_together(platform)


def paid(platform: Platform, booking_id: str) -> list[tuple[object, ...]]:
    """What payments took for the booking and what it gave back."""
    return platform.sql("payments", "SELECT debited, refunded FROM booking_payments WHERE booking_id = %s", booking_id)


def inr(amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": "INR"}


# Journeys --------------------------------------------------------------------------------------------------------


def test_a_booking_paid_on_reservation_is_confirmed_with_its_total_debited_and_its_seats_sold(
    platform: Platform,
) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)

    booking = journeys.book(ASHA, bus_seats(schedule_id, "1A", "1B"))

    confirmed = journeys.reaches(ASHA, booking["id"], "confirmed")
    assert confirmed["total"] == inr(2 * FARE)
    assert [item["price"] for item in confirmed["items"]] == [inr(2 * FARE)]
    assert confirmed["failure"] is None
    assert confirmed["confirmed_at"] is not None
    assert journeys.statuses(ASHA, booking["id"]) == [
        "pending",
        "reserved",
        "payment_pending",
        "confirming",
        "confirmed",
    ]
    assert journeys.balance(ASHA) == 500_000 - 2 * FARE
    assert journeys.taken_seats(schedule_id) == {"1A": "sold", "1B": "sold"}


def test_a_booking_paid_later_holds_its_seats_until_paid_then_is_confirmed(platform: Platform) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    booking = journeys.book(ASHA, bus_seats(schedule_id, "4C"), pay=False)

    reserved = journeys.reaches(ASHA, booking["id"], "reserved")
    assert reserved["total"] == inr(FARE)
    assert reserved["payment"] is None
    assert datetime.fromisoformat(reserved["expires_at"]) > datetime.now(UTC)
    assert journeys.taken_seats(schedule_id) == {"4C": "held"}
    assert journeys.balance(ASHA) == 500_000

    assert journeys.pay(ASHA, booking["id"])["status"] == "payment_pending"

    assert journeys.reaches(ASHA, booking["id"], "confirmed")["payment"] == {"method": "wallet"}
    assert journeys.balance(ASHA) == 500_000 - FARE
    assert journeys.taken_seats(schedule_id) == {"4C": "sold"}


def test_a_declined_payment_leaves_the_booking_reserved_until_the_customer_tops_up_and_pays_again(
    platform: Platform,
) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, FARE - 1)
    booking = journeys.book(ASHA, bus_seats(schedule_id, "2B"))

    declined = journeys.reaches(ASHA, booking["id"], "reserved")
    assert declined["failure"]["code"] == "insufficient_funds"
    assert journeys.balance(ASHA) == FARE - 1
    assert journeys.taken_seats(schedule_id) == {"2B": "held"}

    journeys.top_up(ASHA, 1)
    journeys.pay(ASHA, booking["id"])

    confirmed = journeys.reaches(ASHA, booking["id"], "confirmed")
    assert confirmed["failure"] is None
    assert journeys.balance(ASHA) == 0
    assert journeys.statuses(ASHA, booking["id"]) == [
        "pending", "reserved", "payment_pending", "reserved", "payment_pending", "confirming", "confirmed"
    ]  # fmt: skip
    assert journeys.taken_seats(schedule_id) == {"2B": "sold"}


def test_an_unpaid_booking_expires_and_frees_its_seats_and_a_debit_landing_afterwards_is_given_back(
    platform: Platform,
) -> None:
    # Inventory's grace outlasts the test: the booking expires by bookings' own timer, which releases the seats.
    journeys = start(platform, SHORT_HOLD)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    booking = journeys.book(ASHA, bus_seats(schedule_id, "5A", "5B"), pay=False)
    journeys.reaches(ASHA, booking["id"], "reserved")

    expired = journeys.reaches(ASHA, booking["id"], "expired")

    assert expired["expired_at"] is not None
    wait_for(lambda: not journeys.taken_seats(schedule_id), what="the expired booking's seats free")
    # A debit that was on its way when the booking expired: payments takes the money, bookings must give it back.
    late = DebitWallet(
        booking_id=uuid.UUID(booking["id"]),
        customer_id=ASHA,
        amount=expired["total"],
        idempotency_key=debit_key(uuid.UUID(booking["id"])),
    )
    publish(journeys, [Envelope.wrap(late, source="bookings", correlation_id=booking["id"])])
    wait_for(lambda: paid(platform, booking["id"]) == [(2 * FARE, 2 * FARE)], what="the late debit refunded")
    journeys.wait_until_quiet()
    assert journeys.balance(ASHA) == 500_000
    assert journeys.booking(ASHA, booking["id"])["status"] == "expired"
    assert not journeys.taken_seats(schedule_id)


def test_cancelling_a_reserved_booking_frees_its_seats_and_takes_no_money(platform: Platform) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    booking = journeys.book(ASHA, bus_seats(schedule_id, "3A", "3B"), pay=False)
    journeys.reaches(ASHA, booking["id"], "reserved")

    assert journeys.cancel(ASHA, booking["id"])["status"] == "cancelled"

    wait_for(lambda: not journeys.taken_seats(schedule_id), what="the cancelled booking's seats free")
    journeys.wait_until_quiet()
    cancelled = journeys.booking(ASHA, booking["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["refund"] is None
    assert journeys.balance(ASHA) == 500_000


def test_cancelling_a_confirmed_booking_refunds_by_how_long_before_departure_and_frees_its_seats(
    platform: Platform,
) -> None:
    journeys = start(platform)
    refund_by_departure = {timedelta(hours=48): FARE, timedelta(hours=12): FARE // 2, timedelta(hours=1): 0}
    schedules = {departs_in: journeys.schedule(departs_in) for departs_in in refund_by_departure}
    journeys.top_up(ASHA, 3 * FARE)
    bookings = {
        departs_in: journeys.book(ASHA, bus_seats(schedule_id, "1A")) for departs_in, schedule_id in schedules.items()
    }
    for booking in bookings.values():
        journeys.reaches(ASHA, booking["id"], "confirmed")
    assert journeys.balance(ASHA) == 0

    for booking in bookings.values():
        journeys.cancel(ASHA, booking["id"])

    for departs_in, booking in bookings.items():
        cancelled = journeys.reaches(ASHA, booking["id"], "cancelled")
        assert cancelled["refund"] == inr(refund_by_departure[departs_in]), departs_in
        assert journeys.statuses(ASHA, booking["id"])[-2:] == ["cancelling", "cancelled"]
    wait_for(lambda: journeys.balance(ASHA) == sum(refund_by_departure.values()), what="refunds in the wallet")
    assert all(not journeys.taken_seats(schedule_id) for schedule_id in schedules.values())


def test_seats_already_sold_to_another_booking_fail_the_booking_and_take_no_money(platform: Platform) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    journeys.top_up(RAVI, 500_000)
    first = journeys.book(ASHA, bus_seats(schedule_id, "6A"))
    journeys.reaches(ASHA, first["id"], "confirmed")

    second = journeys.book(RAVI, bus_seats(schedule_id, "6B", "6A"))

    failed = journeys.reaches(RAVI, second["id"], "failed")
    assert failed["failure"]["code"] == "seats_unavailable"
    assert failed["failed_at"] is not None
    assert failed["total"] is None
    assert journeys.balance(RAVI) == 500_000
    assert journeys.taken_seats(schedule_id) == {"6A": "sold"}


def test_a_hotel_stay_paid_on_reservation_is_confirmed_and_its_rooms_sold(platform: Platform) -> None:
    journeys = start(platform)
    check_in = date.today() + timedelta(days=30)
    room_type_id = journeys.room_type(check_in, nights=2, rooms=2)
    journeys.top_up(ASHA, 1_000_000)

    booking = journeys.book(ASHA, hotel_rooms(room_type_id, check_in, nights=2))

    confirmed = journeys.reaches(ASHA, booking["id"], "confirmed")
    assert confirmed["total"] == inr(2 * RATE)
    assert journeys.balance(ASHA) == 1_000_000 - 2 * RATE
    assert journeys.rooms_left(room_type_id, check_in, nights=2) == [1, 1]
    assert platform.sql("inventory", "SELECT held, sold FROM room_nights ORDER BY night") == [(0, 1), (0, 1)]


# Late and duplicate messages -------------------------------------------------------------------------------------


def publish(journeys: Journeys, envelopes: list[Envelope]) -> None:
    """Publish envelopes as a relay would: ``Nats-Msg-Id`` = envelope id."""
    _publish_raw(
        journeys,
        [
            (Contract.lookup(e.type, e.version).SUBJECT, e.model_dump(mode="json"), {MSG_ID_HEADER: str(e.id)})
            for e in envelopes
        ],
    )


def _publish_raw(journeys: Journeys, messages: list[tuple[str, dict[str, Any], dict[str, str]]]) -> None:
    async def publish_all(js: JetStreamContext) -> None:
        for subject, envelope, headers in messages:
            await js.publish(subject, json.dumps(envelope).encode(), headers=headers)

    on_jetstream(journeys.platform.env["NATS_URL"], publish_all)


def deliver_every_saga_message_again(journeys: Journeys) -> int:
    """Publish every command and reply the services have published twice more, each under a new ``Nats-Msg-Id``
    so that JetStream's duplicate window lets it through: the very envelope (the consumer's inbox must know it),
    and its payload in a fresh envelope (a resend: the saga itself must see that it changes nothing).

    Returns how many fresh envelopes were published: each reaches bookings as a message it has never seen, the
    reply itself, or inventory's or payments' new answer to the command.
    """
    messages = []
    for service, subjects in SAGA_MESSAGES.items():
        rows = journeys.platform.sql(
            service,
            f"SELECT subject, envelope, headers FROM outbox WHERE published_at IS NOT NULL AND ({subjects})"
            " ORDER BY created_at, id",
        )
        for subject, envelope, headers in rows:
            assert isinstance(envelope, dict)
            assert isinstance(headers, dict)
            fresh = str(uuid.uuid4())
            messages.append((str(subject), envelope, headers | {MSG_ID_HEADER: str(uuid.uuid4())}))
            messages.append((str(subject), envelope | {"id": fresh}, headers | {MSG_ID_HEADER: fresh}))
    _publish_raw(journeys, messages)
    return len(messages) // 2


def messages_received(platform: Platform) -> int:
    """Messages bookings' consumers have taken in, each once."""
    [(count,)] = platform.sql("bookings", "SELECT count(*) FROM inbox")
    assert isinstance(count, int)
    return count


def what_everyone_sees(journeys: Journeys, bookings: dict[str, str], schedule_id: str) -> dict[str, Any]:
    """Each booking with its history, each wallet with its transactions, and the seat map."""
    seen: dict[str, Any] = {"seats": journeys.seat_map(schedule_id)}
    for booking_id, name in bookings.items():
        seen[booking_id] = (journeys.booking(name, booking_id), journeys.history(name, booking_id))
    for name in set(bookings.values()):
        transactions = journeys.call("GET", f"{journeys.payments}/v1/wallets/me/transactions", customer(name))
        seen[name] = (journeys.balance(name), transactions["items"])
    return seen


def test_every_command_and_reply_delivered_again_changes_nothing(platform: Platform) -> None:
    journeys = start(platform)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    journeys.top_up(RAVI, FARE - 1)
    kept = journeys.book(ASHA, bus_seats(schedule_id, "1A"))
    refunded = journeys.book(ASHA, bus_seats(schedule_id, "2A"))
    declined_then_paid = journeys.book(RAVI, bus_seats(schedule_id, "3A"))
    released = journeys.book(RAVI, bus_seats(schedule_id, "4A"), pay=False)
    journeys.reaches(ASHA, refunded["id"], "confirmed")
    journeys.cancel(ASHA, refunded["id"])
    journeys.reaches(RAVI, declined_then_paid["id"], "reserved")
    journeys.top_up(RAVI, 1)
    journeys.pay(RAVI, declined_then_paid["id"])
    journeys.reaches(RAVI, released["id"], "reserved")
    journeys.cancel(RAVI, released["id"])
    for name, booking, status in [
        (ASHA, kept, "confirmed"), (ASHA, refunded, "cancelled"),
        (RAVI, declined_then_paid, "confirmed"), (RAVI, released, "cancelled"),
    ]:  # fmt: skip
        journeys.reaches(name, booking["id"], status)
    journeys.wait_until_quiet()
    owners = {kept["id"]: ASHA, refunded["id"]: ASHA, declined_then_paid["id"]: RAVI, released["id"]: RAVI}
    before = what_everyone_sees(journeys, owners, schedule_id)
    received = messages_received(platform)

    fresh = deliver_every_saga_message_again(journeys)

    journeys.wait_until_quiet()
    # The saga's handlers took every new message in: the replies, and the answers to the commands sent again (and
    # to the releases a hold.reserved for a cancelled booking asks for, as it cannot tell a copy from a late one).
    # None of it changed anything anyone can see.
    assert messages_received(platform) >= received + fresh
    assert what_everyone_sees(journeys, owners, schedule_id) == before
    assert before["seats"]["1A"] == before["seats"]["3A"] == "sold"
    assert before[ASHA][0] == 500_000 - FARE
    assert before[RAVI][0] == 0
    assert journeys.dead_letters() == 0


def test_a_hold_that_lapsed_while_the_money_was_taken_fails_the_booking_and_refunds_it(platform: Platform) -> None:
    journeys = start(platform, SHORT_HOLD | NO_GRACE)
    schedule_id = journeys.schedule()
    journeys.top_up(ASHA, 500_000)
    booking = journeys.book(ASHA, bus_seats(schedule_id, "7D"), pay=False)
    expires_at = datetime.fromisoformat(journeys.reaches(ASHA, booking["id"], "reserved")["expires_at"])
    # Inventory is down while the customer pays in time: the confirm waits, and the hold lapses past its grace.
    journeys.workers["inventory"].stop()
    journeys.pay(ASHA, booking["id"])
    journeys.reaches(ASHA, booking["id"], "confirming")
    assert journeys.balance(ASHA) == 500_000 - FARE
    wait_for(lambda: datetime.now(UTC) > expires_at + timedelta(seconds=0.5), what="the hold's grace over")

    platform.ready_worker("inventory", **journeys.env)

    failed = journeys.reaches(ASHA, booking["id"], "failed")
    assert failed["failure"]["code"] == "hold_lapsed"
    assert failed["refund"] == inr(FARE)
    wait_for(lambda: journeys.balance(ASHA) == 500_000, what="the payment refunded")
    journeys.wait_until_quiet()
    assert paid(platform, booking["id"]) == [(FARE, FARE)]
    assert not journeys.taken_seats(schedule_id)
    assert journeys.statuses(ASHA, booking["id"])[-3:] == ["payment_pending", "confirming", "failed"]


# Idempotency under concurrency -----------------------------------------------------------------------------------


def test_fifty_concurrent_bookings_under_one_idempotency_key_make_one_booking(platform: Platform) -> None:
    bookings = platform.web("bookings")
    headers = customer(ASHA) | {"Idempotency-Key": "trip-to-goa"}
    body: dict[str, Any] = {"items": [bus_seats(str(uuid.uuid4()), "1A")], "payment": {"method": "wallet"}}

    def book(_: int) -> requests.Response:
        return requests.post(f"{bookings}/v1/bookings", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(book, range(50)))

    assert platform.sql("bookings", "SELECT count(*) FROM bookings") == [(1,)]
    accepted = [response.json()["id"] for response in responses if response.status_code == 202]
    refused = [response.json()["code"] for response in responses if response.status_code == 409]
    assert accepted
    assert len(set(accepted)) == 1
    assert set(refused) <= {"idempotency_key_in_use"}
    assert len(accepted) + len(refused) == 50
