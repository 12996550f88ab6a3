"""Envelopes, payload schemas and the retry schedule, without any server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from tripline.contracts.bookings import BookingStatusChanged
from tripline.contracts.values import Money
from tripline.db import is_transient
from tripline.messaging.consumer import retry_delay
from tripline.messaging.contracts import Contract, ProbeAnswered, ProbeRequested, UnknownContract
from tripline.messaging.envelope import Envelope
from tripline.messaging.streams import command_stream, event_stream, redelivery_backoff
from tripline.settings import MessagingSettings


def test_envelope_round_trips_through_json_and_opens_with_its_schema() -> None:
    envelope = Envelope.wrap(ProbeRequested(probe_id="p-1"), source="bookings", correlation_id="b-1")

    parsed = Envelope.model_validate_json(envelope.to_bytes())

    assert parsed == envelope
    assert parsed.type == "inventory.probe"
    assert parsed.version == 1
    assert parsed.open() == ProbeRequested(probe_id="p-1")


def test_a_message_caused_by_another_carries_its_correlation_and_causation() -> None:
    command = Envelope.wrap(ProbeRequested(probe_id="p-1"), source="bookings", correlation_id="b-1")

    reply = Envelope.wrap(ProbeAnswered(probe_id="p-1", answered_by="inventory"), source="inventory", causation=command)

    assert reply.causation_id == command.id
    assert reply.correlation_id == "b-1"
    assert reply.id != command.id


def test_an_unknown_major_version_is_refused_rather_than_guessed() -> None:
    envelope = Envelope.wrap(ProbeRequested(probe_id="p-1"), source="bookings").model_copy(update={"version": 2})

    with pytest.raises(UnknownContract):
        envelope.open()


def test_a_payload_with_unknown_fields_is_invalid() -> None:
    envelope = Envelope.wrap(ProbeRequested(probe_id="p-1"), source="bookings")
    tampered = envelope.model_copy(update={"payload": {"probe_id": "p-1", "surprise": True}})

    with pytest.raises(ValidationError):
        tampered.open()


def test_two_schemas_cannot_claim_the_same_type_and_version() -> None:
    with pytest.raises(TypeError):

        class Impostor(Contract):
            TYPE = "inventory.probe"
            VERSION = 1
            SUBJECT = "inventory.cmd.probe"


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(50) == 60.0


def test_a_database_outage_is_transient_but_a_handler_bug_is_not() -> None:
    unavailable = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))

    assert is_transient(unavailable)
    assert is_transient(psycopg.OperationalError("server closed the connection"))
    assert not is_transient(ValueError("a bug"))
    assert not is_transient(KeyError("missing"))


def test_redelivery_backoff_fits_jetstream_limits() -> None:
    settings = MessagingSettings(nats_ack_wait_seconds=30, nats_max_deliver=8)

    backoff = redelivery_backoff(settings)

    assert backoff[0] == 30  # JetStream takes the first step as the ack wait
    assert len(backoff) < settings.nats_max_deliver
    assert max(backoff) <= 600


def test_streams_follow_the_naming_of_the_architecture() -> None:
    assert command_stream("inventory").name == "INVENTORY_CMD"
    assert command_stream("inventory").subjects == ("inventory.cmd.>",)
    assert event_stream("payments").name == "PAYMENTS_EVT"
    assert event_stream("payments").subjects == ("payments.evt.>",)


def test_a_schema_travels_on_its_subject_unless_it_names_one_per_message() -> None:
    changed = BookingStatusChanged(
        booking_id=uuid.uuid4(),
        customer_id="cust-asha",
        from_status="confirming",
        status="confirmed",
        reason="inventory sold every item",
        at=datetime.now(UTC),
        total=Money(amount_minor=125_000, currency="INR"),
        refund=None,
        failure_code=None,
        version=5,
    )

    assert ProbeRequested(probe_id="p-1").subject() == ProbeRequested.SUBJECT == "inventory.cmd.probe"
    assert changed.subject() == "bookings.evt.booking.confirmed"
