"""Stopping long-running asyncio loops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def growing_pause(attempt: int, cap: float = 10.0) -> float:
    """Seconds to wait after ``attempt`` consecutive failures to reach a server: 0.2 s doubling, capped."""
    return float(min(0.2 * 2**attempt, cap))


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT, so loops finish their current message and drain."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
