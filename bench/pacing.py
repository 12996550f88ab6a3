"""Open-loop pacing for the paced scenarios: each client starts its tasks at the times of a Poisson process.

Locust's own pacing does not measure a latency at a rate. ``constant_throughput`` counts each wait from when the
last task *ended*: one slow answer (a pause, a checkpoint) makes clients finish together, and from then on they
start together too, every period, so the server sees all of them in one burst and the figure is the time to work
through a burst (measured: 32 bus searches within 20 ms, every 160 ms, at "200 a second"). ``poisson`` also waits
from the end of a task, so the rate it reaches falls as answers slow down.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

SCHEDULE_ATTRIBUTE = "_bench_scheduled_start"


def poisson_arrivals(
    rate_per_client: float,
    *,
    clock: Callable[[], float] = time.perf_counter,
    gap: Callable[[float], float] = random.expovariate,
) -> Callable[[Any], float]:
    """A locust ``wait_time``: the client's next start is a random gap (mean ``1 / rate_per_client``) after its
    last *scheduled* start, so answers never move its starts, and many clients together arrive as independent
    travellers would. A client still busy when its next start comes begins as soon as it is free."""
    if rate_per_client <= 0:
        raise ValueError(f"a paced client needs a positive rate, not {rate_per_client}")

    def wait_time(client: Any) -> float:
        now = clock()
        scheduled = getattr(client, SCHEDULE_ATTRIBUTE, now) + gap(rate_per_client)
        setattr(client, SCHEDULE_ATTRIBUTE, scheduled)
        return max(0.0, scheduled - now)

    return wait_time
