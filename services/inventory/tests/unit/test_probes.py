from inventory.service_layer.probes import answer_probe
from tripline.messaging.contracts import ProbeAnswered, ProbeRequested
from tripline.messaging.envelope import Envelope
from tripline.testing import FakeUnitOfWork


def test_a_probe_is_answered_with_one_reply_caused_by_it() -> None:
    command = ProbeRequested(probe_id="p-1")
    envelope = Envelope.wrap(command, source="bookings", correlation_id="p-1")
    uow = FakeUnitOfWork("inventory")

    answer_probe(command, envelope, uow)  # type: ignore[arg-type]

    (reply,) = uow.outbox.messages
    assert reply.open() == ProbeAnswered(probe_id="p-1", answered_by="inventory")
    assert reply.causation_id == envelope.id
    assert reply.correlation_id == "p-1"
