"""What the benchmark reads from the running platform beside its own requests: whether every message has been
handled (so one scenario's backlog does not weigh on the next), and search's projection lag, from the histogram the
search worker serves on ``/metrics``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from devstack.readiness import wait_until
from tripline_ops.jetstream import caught_up, on_jetstream, quiet_twice, stream_marks

LAG_METRIC = "tripline_search_projection_lag_seconds"


def wait_for_quiet(nats_url: str, timeout: float = 600) -> None:
    """Until every durable consumer has acknowledged everything and no stream moved since the previous look."""

    def look() -> tuple[bool, object]:
        streams, consumers = on_jetstream(nats_url, stream_marks)
        return caught_up(consumers), streams

    if not wait_until(quiet_twice(look), timeout=timeout, interval=0.5):
        raise RuntimeError("the platform did not become quiet: some consumer still has messages to handle")


@dataclass(frozen=True)
class Histogram:
    """A cumulative Prometheus histogram: ``(upper bound, observations at or below it)``, in bound order."""

    buckets: tuple[tuple[float, float], ...]

    def since(self, earlier: Histogram) -> Histogram:
        """The observations made after ``earlier`` was read."""
        before = dict(earlier.buckets)
        return Histogram(tuple((bound, count - before.get(bound, 0.0)) for bound, count in self.buckets))

    @property
    def count(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def quantile(self, q: float) -> float:
        """As PromQL's ``histogram_quantile``: linear within the bucket the quantile falls in; NaN when empty."""
        if self.count == 0:
            return math.nan
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, count in self.buckets:
            if count >= rank:
                if math.isinf(bound):
                    return lower_bound  # beyond the largest finite bucket: its bound is all that is known
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-12)
            lower_bound, lower_count = bound, count
        return lower_bound


def read_histogram(metrics_url: str, name: str = LAG_METRIC) -> Histogram:
    """The histogram ``name`` on a ``/metrics`` page, its labelled series summed bucket by bucket."""
    page = requests.get(metrics_url, timeout=10)
    page.raise_for_status()
    return histogram_of(page.text, name)


def histogram_of(exposition: str, name: str) -> Histogram:
    totals: dict[float, float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
    return Histogram(tuple(sorted(totals.items())))


def metrics_url(stack_env: Mapping[str, str], service: str) -> str | None:
    """The ``/metrics`` address of ``service``'s worker in the local stack, if it serves one."""
    port = stack_env.get(f"{service.upper()}_WORKER_METRICS_PORT")
    return f"http://127.0.0.1:{port}/metrics" if port else None


def quantiles_ms(histogram: Histogram, qs: Sequence[float]) -> list[float]:
    return [histogram.quantile(q) * 1000 for q in qs]
