"""The paced scenarios start tasks on each client's own schedule, whatever the answers do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import cycle
from typing import Any

import pytest

from bench.pacing import poisson_arrivals


class Clock:
    """A clock the simulation moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Client:
    """A locust user as far as ``wait_time`` is concerned: an object it may keep its schedule on."""


def starts(wait_time: Callable[[Any], float], clock: Clock, task_seconds: Iterator[float], tasks: int) -> list[float]:
    """When each task started, for a client that runs a task, then waits, as locust does."""
    client = Client()
    started = []
    for _ in range(tasks):
        started.append(clock.now)
        clock.now += next(task_seconds)
        clock.now += wait_time(client)
    return started


def test_slow_answers_do_not_move_the_starts() -> None:
    clock = Clock()
    pace = poisson_arrivals(2.0, clock=clock, gap=lambda rate: 1 / rate)

    fast = starts(pace, clock, cycle([0.01]), 6)
    clock.now = 100.0
    uneven = starts(pace, clock, cycle([0.01, 0.4, 0.2]), 6)

    assert fast == pytest.approx([100.0, 100.51, 101.01, 101.51, 102.01, 102.51])
    assert uneven == pytest.approx(fast)


def test_a_client_still_busy_at_its_next_start_begins_when_free_and_keeps_its_schedule() -> None:
    clock = Clock()
    pace = poisson_arrivals(2.0, clock=clock, gap=lambda rate: 1 / rate)

    started = starts(pace, clock, iter([0.01, 1.2, 0.01, 0.01, 0.01]), 5)

    # The second task ran past the starts due at 101.01 and 101.51: both began as soon as it was over, one after
    # the other, as an open loop sends what was due; then the schedule went on as drawn.
    assert started == pytest.approx([100.0, 100.51, 101.71, 101.72, 102.01])


def test_clients_answered_together_still_start_apart() -> None:
    clock = Clock()
    gaps = iter([0.3, 0.7, 0.5, 0.9])
    pace = poisson_arrivals(2.0, clock=clock, gap=lambda rate: next(gaps))
    first, second = Client(), Client()

    waits = [pace(first), pace(second)]  # next starts at 100.3 and 100.7
    clock.now = 100.75  # both started, and both answered at this same moment
    waits += [pace(first), pace(second)]

    assert waits == pytest.approx([0.3, 0.7, 0.05, 0.85])


def test_locust_calls_it_as_a_method_of_the_user() -> None:
    clock = Clock()

    class PacedUser:
        wait_time = poisson_arrivals(2.0, clock=clock, gap=lambda rate: 1 / rate)

    user = PacedUser()

    assert [user.wait_time(), user.wait_time()] == pytest.approx([0.5, 1.0])


def test_gaps_are_drawn_at_the_client_rate() -> None:
    asked: list[float] = []

    def gap(rate: float) -> float:
        asked.append(rate)
        return 0.16

    pace = poisson_arrivals(6.25, clock=Clock(), gap=gap)

    pace(Client())

    assert asked == [6.25]


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        poisson_arrivals(0)
