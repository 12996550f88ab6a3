"""Payments' worker on real PostgreSQL and NATS: debit commands through JetStream, resent, duplicated on the wire,
and across a crash of the worker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from nats.js import JetStreamContext

from payments.config import PaymentsSettings
from services.payments.tests.cashier import Cashier, command_envelope, debit_command
from tripline.messaging.contracts import Contract
from tripline.messaging.envelope import MSG_ID_HEADER, Envelope

from .platform import Platform, on_jetstream, wait_for

CUSTOMER = "cust-leela"


@pytest.fixture
def cashier(platform: Platform) -> Iterator[Cashier]:
    """Payments' own database as the platform provisioned it: for top-ups and reading balances."""
    cashier = Cashier(PaymentsSettings(database_url=platform.database_urls["payments"]).database_url.get_secret_value())
    yield cashier
    cashier.close()


def publish(platform: Platform, *envelopes: Envelope) -> None:
    """Publish commands all at once as bookings' relay does: ``Nats-Msg-Id`` = envelope id."""

    async def publish_all(js: JetStreamContext) -> None:
        acks = [
            js.publish_async(
                Contract.lookup(e.type, e.version).SUBJECT, e.to_bytes(), headers={MSG_ID_HEADER: str(e.id)}
            )
            for e in envelopes
        ]
        await asyncio.gather(*(await asyncio.gather(*acks)))

    on_jetstream(platform.env["NATS_URL"], publish_all)


def published_replies(platform: Platform) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Events payments' relay has published, by the id of the command that caused them."""
    rows = platform.sql(
        "payments",
        "SELECT subject, envelope FROM outbox WHERE subject LIKE 'payments.evt.%%' AND published_at IS NOT NULL"
        " ORDER BY created_at, id",
    )
    replies: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for subject, envelope in rows:
        kind = str(subject).removeprefix("payments.evt.")
        replies.setdefault(envelope["causation_id"], []).append((kind, envelope["payload"]))  # type: ignore[index]
    return replies


def replies_to_all(platform: Platform, envelopes: list[Envelope]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Once every envelope has been answered, the published replies."""
    wanted = {str(e.id) for e in envelopes}
    replies = wait_for(
        lambda: (r := published_replies(platform)) and wanted <= set(r) and r,
        timeout=60,
        what=f"replies to {len(wanted)} commands",
    )
    assert isinstance(replies, dict)
    return replies


def test_one_debit_sent_twenty_times_and_duplicated_on_the_wire_takes_the_money_once(
    platform: Platform, cashier: Cashier
) -> None:
    platform.ready_worker("payments")
    cashier.top_up(CUSTOMER, 10_000)
    command = debit_command(uuid.uuid4(), CUSTOMER, 2_500)
    envelopes = [command_envelope(command) for _ in range(20)]  # the same key, each resend a new envelope

    publish(platform, *envelopes, envelopes[0])  # and the first one twice, under the same Nats-Msg-Id

    replies = replies_to_all(platform, envelopes)
    assert set(replies) == {str(e.id) for e in envelopes}
    assert all(len(answers) == 1 for answers in replies.values())
    answers = [answers[0] for answers in replies.values()]
    assert {kind for kind, _ in answers} == {"debit.succeeded"}
    assert len({payload["transaction_id"] for _, payload in answers}) == 1
    assert platform.sql("payments", "SELECT id::text, amount FROM ledger_transactions WHERE kind = 'debit'") == [
        (answers[0][1]["transaction_id"], 2_500)
    ]
    assert cashier.balance(CUSTOMER) == 7_500


def test_a_worker_killed_mid_stream_answers_every_debit_once_and_never_overdraws_the_wallet(
    platform: Platform, cashier: Cashier
) -> None:
    worker = platform.ready_worker("payments")
    cashier.top_up(CUSTOMER, 20_000)
    envelopes = [command_envelope(debit_command(uuid.uuid4(), CUSTOMER, 1_000)) for _ in range(30)]

    publish(platform, *envelopes)
    wait_for(lambda: platform.sql("payments", "SELECT 1 FROM outbox LIMIT 1"), what="some answers before the crash")
    worker.kill()
    platform.ready_worker("payments")

    replies = replies_to_all(platform, envelopes)
    assert set(replies) == {str(e.id) for e in envelopes}
    assert all(len(answers) == 1 for answers in replies.values())
    kinds = [answers[0][0] for answers in replies.values()]
    assert kinds.count("debit.succeeded") == 20
    assert kinds.count("debit.declined") == 10
    assert {answers[0][1]["reason"] for answers in replies.values() if answers[0][0] == "debit.declined"} == {
        "insufficient_funds"
    }
    assert cashier.balance(CUSTOMER) == 0
    assert platform.sql(
        "payments", "SELECT count(*), min(balance_after) FROM ledger_entries WHERE balance_after IS NOT NULL"
    ) == [(21, 0)]
    audit = subprocess.run(
        [sys.executable, "-m", "payments.entrypoints.cli", "audit"],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.splitlines()[-1] == "payments audit passed"


def test_the_worker_finishes_a_top_up_whose_request_died_and_leaves_one_still_in_flight(
    platform: Platform, cashier: Cashier
) -> None:
    died, in_flight = uuid.uuid4(), uuid.uuid4()
    for top_up_id, key, written_down in ((died, "died", "10 minutes"), (in_flight, "in-flight", "1 second")):
        platform.sql(
            "payments",
            "INSERT INTO top_ups (id, scope, idempotency_key, customer_id, amount, currency, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, 1234, 'INR', now() - %s::interval, now() - %s::interval)",
            top_up_id,
            f"account:{CUSTOMER}",
            key,
            CUSTOMER,
            written_down,
            written_down,
        )

    platform.ready_worker("payments", PAYMENTS_TOP_UP_RECOVERY_CHECK_SECONDS="0.2")

    wait_for(
        lambda: platform.sql("payments", "SELECT status FROM top_ups WHERE id = %s", died) == [("succeeded",)],
        what="the abandoned top-up finished",
    )
    assert cashier.balance(CUSTOMER) == 1_234
    assert platform.sql("payments", "SELECT kind, amount, idempotency_key FROM ledger_transactions") == [
        ("top_up", 1_234, "died")
    ]
    assert platform.sql("payments", "SELECT status FROM top_ups WHERE id = %s", in_flight) == [("pending",)]
