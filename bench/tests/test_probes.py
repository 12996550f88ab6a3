"""The projection lag the benchmark reports is read from the search worker's histogram as PromQL would read it."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bench.probes import LAG_METRIC, histogram_of

BUCKETS = (0.01, 0.1, 1.0)


def exposition(observations: dict[str, list[float]]) -> str:
    """A ``/metrics`` page with the lag histogram, one labelled series per event type."""
    registry = CollectorRegistry()
    lag = Histogram(LAG_METRIC, "lag", ["event"], buckets=BUCKETS, registry=registry)
    for event, seconds in observations.items():
        for value in seconds:
            lag.labels(event=event).observe(value)
    return generate_latest(registry).decode()


def test_series_of_every_event_are_summed_bucket_by_bucket() -> None:
    page = exposition({"seats_changed": [0.005, 0.05], "room_nights_changed": [0.5, 5.0]})

    histogram = histogram_of(page, LAG_METRIC)

    assert histogram.buckets == ((0.01, 1.0), (0.1, 2.0), (1.0, 3.0), (math.inf, 4.0))
    assert histogram.count == 4


def test_a_quantile_is_interpolated_within_its_bucket() -> None:
    # 100 observations: 50 at or below 10 ms, 40 more at or below 100 ms, 10 more at or below 1 s.
    page = exposition({"seats_changed": [0.005] * 50 + [0.05] * 40 + [0.5] * 10})
    histogram = histogram_of(page, LAG_METRIC)

    assert histogram.quantile(0.5) == 0.01
    assert math.isclose(histogram.quantile(0.7), 0.01 + 0.09 * 20 / 40)
    assert math.isclose(histogram.quantile(0.95), 0.1 + 0.9 * 5 / 10)


def test_a_quantile_beyond_the_largest_bucket_is_that_bucket_bound() -> None:
    histogram = histogram_of(exposition({"seats_changed": [0.005, 30.0]}), LAG_METRIC)

    assert histogram.quantile(0.99) == 1.0


def test_only_what_was_observed_since_an_earlier_reading_counts() -> None:
    before = histogram_of(exposition({"seats_changed": [0.5] * 10}), LAG_METRIC)
    after = histogram_of(exposition({"seats_changed": [0.5] * 10 + [0.005] * 4}), LAG_METRIC)

    since = after.since(before)

    assert since.count == 4
    assert since.quantile(0.99) <= 0.01


def test_nothing_observed_has_no_quantile() -> None:
    histogram = histogram_of(exposition({}), LAG_METRIC)

    assert histogram.count == 0
    assert math.isnan(histogram.quantile(0.5))
