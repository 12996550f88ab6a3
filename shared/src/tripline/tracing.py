"""W3C Trace Context (``traceparent``) parsing and generation, free of any web framework.

The HTTP layer, the outbox and the consumers all carry the same header, so this module imports
nothing but the standard library. Format: https://www.w3.org/TR/trace-context/#traceparent-header
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token
from dataclasses import dataclass

TRACEPARENT_HEADER = "traceparent"

# version-traceid-parentid-flags, lowercase hex only (the spec forbids upper case).
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<span_id>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})"
)
_SAMPLED = "01"
_current: ContextVar[TraceContext | None] = ContextVar("tripline_trace", default=None)


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's position in a distributed trace."""

    trace_id: str
    span_id: str
    flags: str = _SAMPLED

    @property
    def traceparent(self) -> str:
        """The header value, always written as version 00 (the only version we produce)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def __str__(self) -> str:
        return self.traceparent


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The trace context in a ``traceparent`` header, or ``None`` when it is absent or invalid."""
    if not value:
        return None
    value = value.strip()
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version = match["version"]
    if version == "ff":  # reserved as forever invalid
        return None
    # Version 00 is exactly 55 characters; a later version may append fields after a dash,
    # and the spec asks us to read the four we know rather than drop the trace.
    if version == "00" and len(value) != 55:
        return None
    if len(value) > 55 and value[55] != "-":
        return None
    trace_id, span_id = match["trace_id"], match["span_id"]
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id=trace_id, span_id=span_id, flags=match["flags"])


def new_traceparent() -> TraceContext:
    """A fresh trace with random trace-id and span-id, for work that arrived without one."""
    return TraceContext(trace_id=_random_hex(16), span_id=_random_hex(8))


def child_traceparent(parent: TraceContext) -> TraceContext:
    """A new span in the same trace, keeping the parent's flags."""
    return TraceContext(trace_id=parent.trace_id, span_id=_random_hex(8), flags=parent.flags)


def current_trace() -> TraceContext | None:
    """The trace context of the request or message being handled in this thread or task."""
    return _current.get()


def bind_trace(trace: TraceContext | None) -> Token[TraceContext | None]:
    """Make ``trace`` current; pass the token to ``unbind_trace`` when the work is done."""
    return _current.set(trace)


def unbind_trace(token: Token[TraceContext | None]) -> None:
    """Restore the trace context that was current before ``bind_trace``."""
    _current.reset(token)


def _random_hex(size: int) -> str:
    # All-zero ids are invalid; at 64+ random bits this loop practically never repeats.
    while True:
        value = secrets.token_hex(size)
        if value.strip("0"):
            return value
