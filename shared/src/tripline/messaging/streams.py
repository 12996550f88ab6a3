"""Stream and durable consumer declarations, created or updated idempotently at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from tripline.settings import MessagingSettings

DLQ_STREAM = "DLQ"
DLQ_SUBJECT_PREFIX = "dlq"
# Events are kept long enough to rebuild a read model from them.
EVENT_RETENTION_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class StreamSpec:
    """A stream a service owns."""

    name: str
    subjects: tuple[str, ...]
    retention: RetentionPolicy
    max_age_seconds: float | None = None


def command_stream(service: str) -> StreamSpec:
    """``<SVC>_CMD``: work-queue retention, a command is removed once its consumer acks it."""
    return StreamSpec(f"{service.upper()}_CMD", (f"{service}.cmd.>",), RetentionPolicy.WORK_QUEUE)


def event_stream(service: str) -> StreamSpec:
    """``<SVC>_EVT``: limits retention, so consumers and rebuilt read models can replay history."""
    return StreamSpec(f"{service.upper()}_EVT", (f"{service}.evt.>",), RetentionPolicy.LIMITS, EVENT_RETENTION_SECONDS)


def dead_letter_stream() -> StreamSpec:
    """``DLQ``: every message no consumer could handle, kept until an operator replays or discards it."""
    return StreamSpec(DLQ_STREAM, (f"{DLQ_SUBJECT_PREFIX}.>",), RetentionPolicy.LIMITS)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, settings: MessagingSettings) -> None:
    """Create the stream, or bring an existing one to this configuration."""
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=spec.retention,
        storage=StorageType.FILE,
        num_replicas=settings.nats_stream_replicas,
        duplicate_window=settings.nats_duplicate_window_seconds,
        max_age=spec.max_age_seconds,
    )
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer a service creates on another (or its own) service's stream."""

    durable: str
    stream: str
    subjects: tuple[str, ...]

    def config(self, settings: MessagingSettings) -> ConsumerConfig:
        """The JetStream configuration: explicit acks, bounded deliveries, growing redelivery delays."""
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.nats_ack_wait_seconds,
            # No JetStream limit: at its limit the server would drop the message silently. The consumer
            # itself dead-letters after nats_max_deliver failed handlings, and a failed copy to DLQ is retried.
            max_deliver=-1,
            backoff=redelivery_backoff(settings),
            filter_subjects=list(self.subjects),
            max_ack_pending=1000,
        )


def redelivery_backoff(settings: MessagingSettings) -> list[float]:
    """Delays for redelivery after an ack timeout: ack_wait, then doubling, capped at ten minutes.

    JetStream uses the first value as the ack wait and requires at most max_deliver entries.
    """
    base = settings.nats_ack_wait_seconds
    return [min(base * 2**attempt, 600.0) for attempt in range(settings.nats_max_deliver - 1)]


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec, settings: MessagingSettings) -> None:
    """Create the durable consumer, or update it to this configuration."""
    await js.add_consumer(spec.stream, config=spec.config(settings))
