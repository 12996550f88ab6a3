"""Structured logging: one JSON object per line on stdout, for structlog and stdlib loggers alike."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# Libraries that log through the standard library and may have installed their own handlers
# (gunicorn does at start-up); their records must come out as the same JSON as ours.
_FOREIGN_LOGGERS = ("gunicorn", "gunicorn.error", "gunicorn.access", "werkzeug", "alembic")


class _JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one stdout handler we install, typed so a second ``configure_logging`` can find it."""


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record to stdout as JSON with timestamp, level, service and request context."""
    # Idempotent: the app factory, gunicorn hooks and tests may all call it, so it replaces its own
    # handler instead of stacking a second one.
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")

    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        add_service,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: tests and gunicorn's post-fork hook reconfigure after loggers were created,
        # and a cached logger would keep writing through the old configuration.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = _JsonLinesHandler(sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _JsonLinesHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
