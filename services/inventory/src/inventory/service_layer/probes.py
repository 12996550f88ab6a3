"""Answering messaging probes: proof that inventory's commands are consumed and its replies relayed."""

from inventory import SERVICE
from tripline.messaging.contracts import ProbeAnswered, ProbeRequested
from tripline.messaging.envelope import Envelope
from tripline.messaging.outbox import OutboxUnitOfWork


def answer_probe(command: ProbeRequested, envelope: Envelope, uow: OutboxUnitOfWork) -> None:
    """Reply once per probe; the inbox makes a redelivered probe a no-op."""
    uow.outbox.add(ProbeAnswered(probe_id=command.probe_id, answered_by=SERVICE), causation=envelope)
