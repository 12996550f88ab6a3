"""The dead-letter stream: where a message goes when no consumer can handle it, and how it comes back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from prometheus_client import Counter

from tripline.messaging.envelope import MSG_ID_HEADER
from tripline.messaging.streams import DLQ_STREAM, DLQ_SUBJECT_PREFIX

REASON = "Tripline-Dead-Letter-Reason"
ORIGINAL_SUBJECT = "Tripline-Original-Subject"
ORIGINAL_STREAM = "Tripline-Original-Stream"
ORIGINAL_SEQUENCE = "Tripline-Original-Sequence"
DELIVERIES = "Tripline-Deliveries"
CONSUMER = "Tripline-Consumer"

DEAD_LETTERS = Counter(
    "tripline_dead_letters_total", "Messages moved to the dead-letter stream", ["consumer", "reason"]
)


async def dead_letter(js: JetStreamContext, msg: Msg, *, consumer: str, reason: str, kind: str) -> None:
    """Copy a message with its subject, headers, reason and delivery count into ``DLQ``."""
    meta = msg.metadata
    headers = dict(msg.headers or {})
    headers.update(
        {
            REASON: reason[:1000],
            ORIGINAL_SUBJECT: msg.subject,
            ORIGINAL_STREAM: meta.stream,
            ORIGINAL_SEQUENCE: str(meta.sequence.stream),
            DELIVERIES: str(meta.num_delivered),
            CONSUMER: consumer,
            # Dead-lettering the same stored message twice (a crash before term) keeps one copy.
            MSG_ID_HEADER: f"dlq:{consumer}:{meta.stream}:{meta.sequence.stream}",
        }
    )
    await js.publish(f"{DLQ_SUBJECT_PREFIX}.{consumer}.{msg.subject}", msg.data, headers=headers)
    DEAD_LETTERS.labels(consumer=consumer, reason=kind).inc()


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter stream, as operators see it."""

    sequence: int
    original_subject: str
    consumer: str
    reason: str
    deliveries: int
    data: bytes
    headers: dict[str, str]


async def list_dead_letters(js: JetStreamContext, limit: int = 100) -> list[DeadLetter]:
    """The oldest entries of the dead-letter stream."""
    info = await js.stream_info(DLQ_STREAM)
    letters: list[DeadLetter] = []
    sequence = info.state.first_seq
    while len(letters) < limit and sequence <= info.state.last_seq:
        try:
            # Deleted (replayed or discarded) entries leave gaps: ask for the next one at or after.
            raw = await js.get_msg(DLQ_STREAM, seq=sequence, subject=f"{DLQ_SUBJECT_PREFIX}.>", next=True)
        except NotFoundError:
            break
        letters.append(_letter(raw))
        sequence = letters[-1].sequence + 1
    return letters


async def get_dead_letter(js: JetStreamContext, sequence: int) -> DeadLetter | None:
    """One entry by its sequence in ``DLQ``, or None."""
    try:
        return _letter(await js.get_msg(DLQ_STREAM, seq=sequence))
    except NotFoundError:
        return None


def _letter(raw: RawStreamMsg) -> DeadLetter:
    headers = dict(raw.headers or {})
    return DeadLetter(
        sequence=int(raw.seq or 0),
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        consumer=headers.get(CONSUMER, ""),
        reason=headers.get(REASON, ""),
        deliveries=int(headers.get(DELIVERIES, "0")),
        data=raw.data or b"",
        headers=headers,
    )


async def replay_dead_letter(js: JetStreamContext, letter: DeadLetter) -> None:
    """Publish the message again on its original subject, then remove it from ``DLQ``.

    The envelope keeps its id, so a consumer that did handle it after all still applies it once; the
    ``Nats-Msg-Id`` is new because the stream would otherwise drop it as a duplicate inside its window.
    """
    headers = {k: v for k, v in letter.headers.items() if not k.startswith("Tripline-")}
    headers[MSG_ID_HEADER] = f"replay:{letter.sequence}:{uuid.uuid4()}"
    await js.publish(letter.original_subject, letter.data, headers=headers)
    await js.delete_msg(DLQ_STREAM, letter.sequence)


async def discard_dead_letter(js: JetStreamContext, sequence: int) -> None:
    """Remove an entry an operator decided not to replay."""
    await js.delete_msg(DLQ_STREAM, sequence)
