"""Versioned message payloads, defined once and looked up by ``(type, version)``.

Every payload class declares the message ``TYPE`` (``inventory.reserve``), its integer ``VERSION`` (the major
version: a consumer rejects a version it does not know rather than guess) and the ``SUBJECT`` it travels on.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class UnknownContract(LookupError):
    """No payload schema is registered for this message type and version."""


class Contract(BaseModel):
    """Base of every message payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    SUBJECT: ClassVar[str]

    _registry: ClassVar[dict[tuple[str, int], type[Contract]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        key = (cls.TYPE, cls.VERSION)
        if key in Contract._registry and Contract._registry[key] is not cls:
            raise TypeError(f"two payload schemas claim {key}")
        Contract._registry[key] = cls

    def subject(self) -> str:
        """The subject this message travels on: ``SUBJECT``, unless a schema names one per message."""
        return self.SUBJECT

    @staticmethod
    def lookup(message_type: str, version: int) -> type[Contract]:
        """The schema for a message type and major version, or ``UnknownContract``."""
        try:
            return Contract._registry[(message_type, version)]
        except KeyError:
            raise UnknownContract(f"no schema for {message_type} v{version}") from None


class ProbeRequested(Contract):
    """A synthetic round trip through the messaging path, answered by the target service's worker."""

    TYPE: ClassVar[str] = "inventory.probe"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.cmd.probe"

    probe_id: str


class ProbeAnswered(Contract):
    """The answer to a ``ProbeRequested``: proves the command was consumed and the reply relayed."""

    TYPE: ClassVar[str] = "inventory.probe_answered"
    VERSION: ClassVar[int] = 1
    SUBJECT: ClassVar[str] = "inventory.evt.probe.answered"

    probe_id: str
    answered_by: str
