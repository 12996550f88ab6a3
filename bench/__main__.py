"""``python -m bench`` (``make bench``): the platform's figures beside a single-transaction reference, in one run.

Uses the running local stack (``make up``) or starts one without demo data and stops it afterwards; puts a
catalogue on sale through the gateway; starts the reference next to it on the same PostgreSQL server; drives each
scenario with locust, headless; prints a table and writes it as JSON under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import create_engine

from bench.catalogue import SEATS, Catalogue, put_on_sale
from bench.probes import metrics_url, quantiles_ms, read_histogram, wait_for_quiet
from bench.reference import prepare
from devstack.config import StackConfig
from devstack.envfile import read_env_file
from devstack.postgres import EmbeddedPostgres
from devstack.provision import create_database, drop_database
from devstack.readiness import free_port, http_ok, wait_until

RESULTS = Path(__file__).parent / "results"
LOCUSTFILE = Path(__file__).parent / "locustfile.py"
REFERENCE_DATABASE = "bench_reference"
REFERENCE_CUSTOMERS = 64


@dataclass(frozen=True)
class Scenario:
    name: str
    user: str
    target: str  # "gateway" or "reference"
    users: int
    event: str  # the locust stat the scenario is judged by
    rate: float | None = None  # paced: this many started per second in all; None: a closed loop
    half_of: str | None = None  # paced at half the throughput this earlier scenario reached


SAGA_SPREAD = "saga, spread"
SCENARIOS = [
    Scenario(SAGA_SPREAD, "SagaSpread", "gateway", 32, "create→confirmed"),
    Scenario("saga, spread at half", "SagaSpreadPaced", "gateway", 32, "create→confirmed", half_of=SAGA_SPREAD),
    Scenario("reference, spread", "ReferenceSpread", "reference", 32, "create→confirmed"),
    Scenario("saga, hot schedule", "SagaHot", "gateway", 32, "create→confirmed"),
    Scenario("reference, hot schedule", "ReferenceHot", "reference", 32, "create→confirmed"),
    Scenario("bus search", "BusSearch", "gateway", 16, "GET /v1/search/buses"),
    Scenario("bus search at 200/s", "BusSearchPaced", "gateway", 32, "GET /v1/search/buses", rate=200),
    Scenario("hotel search", "HotelSearch", "gateway", 16, "GET /v1/search/hotels"),
    Scenario("hotel search at 200/s", "HotelSearchPaced", "gateway", 32, "GET /v1/search/hotels", rate=200),
]


@dataclass(frozen=True)
class Figures:
    scenario: str
    per_second: float  # confirmed bookings (or answered searches) per second
    failures: int  # bookings turned down (or searches failed)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # search's projection lag over the scenario (inventory's commit to search applying it), when it moved
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None
    lag_events: int = 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="how long each scenario runs (default 20)")
    parser.add_argument("--schedules", type=int, default=1_000)
    parser.add_argument("--hotels", type=int, default=1_000)
    parser.add_argument("--only", metavar="WORDS", default="", help="only scenarios whose name contains WORDS")
    options = parser.parse_args(argv)
    scenarios = [scenario for scenario in SCENARIOS if options.only in scenario.name]
    config = StackConfig.from_environ()
    with local_stack(config) as (stack_env, config):
        gateway = f"http://127.0.0.1:{stack_env['GATEWAY_PORT']}"
        print(f"bench: putting {options.schedules} departures and {options.hotels} hotels on sale…", flush=True)
        catalogue = put_on_sale(gateway, options.schedules, options.hotels)
        catalogue_file = write_json(f"catalogue-{stamp()}", catalogue.as_json())
        wait_for_search(gateway, catalogue)
        bench = Bench(stack_env, catalogue_file, options.seconds)
        with reference_server(config, len(catalogue.schedule_ids)) as reference:
            for scenario in scenarios:
                bench.run(scenario, gateway if scenario.target == "gateway" else reference)
    print_table(bench.figures)
    path = write_json(f"bench-{stamp()}", {"figures": [asdict(f) for f in bench.figures], "seconds": options.seconds})
    print(f"\nbench: written to {path}")
    return 0


class Bench:
    """Runs scenarios one after another on a quiet platform, keeping their figures."""

    def __init__(self, stack_env: Mapping[str, str], catalogue_file: Path, seconds: int):
        self.stack_env = stack_env
        self.catalogue_file = catalogue_file
        self.seconds = seconds
        self.figures: list[Figures] = []
        self.lag_metrics = metrics_url(stack_env, "search")

    def run(self, scenario: Scenario, host: str) -> None:
        rate = self.rate_of(scenario)
        if scenario.half_of and rate is None:
            print(f"bench: {scenario.name}: skipped, {scenario.half_of!r} was not run", flush=True)
            return
        # The previous scenario's backlog (or the catalogue's projection) must not weigh on this one.
        wait_for_quiet(self.stack_env["NATS_URL"])
        lag_metrics = self.lag_metrics if scenario.target == "gateway" else None
        lag_before = read_histogram(lag_metrics) if lag_metrics else None
        figures = run(scenario, host, self.catalogue_file, self.seconds, rate)
        if lag_metrics and lag_before is not None:
            wait_for_quiet(self.stack_env["NATS_URL"])  # every change the load caused has reached search
            lag = read_histogram(lag_metrics).since(lag_before)
            if lag.count:
                p50, p99 = quantiles_ms(lag, (0.5, 0.99))
                figures = replace(figures, lag_p50_ms=p50, lag_p99_ms=p99, lag_events=int(lag.count))
        self.figures.append(figures)

    def rate_of(self, scenario: Scenario) -> float | None:
        if scenario.half_of is None:
            return scenario.rate
        reached = next((f.per_second for f in self.figures if f.scenario == scenario.half_of), None)
        return reached / 2 if reached else None


@contextmanager
def local_stack(config: StackConfig) -> Iterator[tuple[Mapping[str, str], StackConfig]]:
    """The running stack's settings; or a stack of its own, on fresh state with nothing but the catalogue, started
    for the run and removed afterwards, so its figures depend on no data left by earlier runs."""
    env_file = config.paths.env_file
    if env_file.exists() and http_ok(f"http://127.0.0.1:{read_env_file(env_file)['GATEWAY_PORT']}/healthz"):
        yield read_env_file(env_file), config
        return
    state = Path(tempfile.mkdtemp(prefix="tripline-bench-"))
    state.chmod(0o755)  # PostgreSQL's own user keeps its data inside
    env = os.environ | {"SEED": "0", "STATE_DIR": str(state), "GATEWAY_PORT": str(free_port())}
    own = StackConfig.from_environ(env)
    print(f"bench: starting a stack of its own in {state}", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "devstack", "up"], env=env, check=True)
        yield read_env_file(own.paths.env_file), own
    finally:
        subprocess.run([sys.executable, "-m", "devstack", "down"], env=env, check=False)
        shutil.rmtree(state, ignore_errors=True)


@contextmanager
def reference_server(config: StackConfig, schedules: int) -> Iterator[str]:
    """The single-transaction reference under gunicorn, on a database of its own on the stack's PostgreSQL."""
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL") or _embedded_admin_url(config)
    drop_database(admin_url, REFERENCE_DATABASE)
    create_database(admin_url, REFERENCE_DATABASE)
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{REFERENCE_DATABASE}"
    customers = [f"ref-{n}" for n in range(REFERENCE_CUSTOMERS)]
    prepare(create_engine(url), schedules, SEATS, customers, balance=10**15)
    port = free_port()
    app = f"bench.reference:create_app({url!r})"
    command = [sys.executable, "-m", "gunicorn", "--config", "python:tripline.http.gunicorn_conf", "--bind",
               f"127.0.0.1:{port}", app]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz") or server.poll() is not None, timeout=30):
            raise RuntimeError("the reference server did not start")
        if server.poll() is not None:
            raise RuntimeError("the reference server exited")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_database(admin_url, REFERENCE_DATABASE)


def _embedded_admin_url(config: StackConfig) -> str:
    server = EmbeddedPostgres(config.paths.postgres_dir)
    server.port = server.running_port()
    if server.port is None:
        raise RuntimeError("the stack's PostgreSQL is not embedded: set BENCH_POSTGRES_ADMIN_URL for the reference")
    return server.admin_url


def wait_for_search(gateway: str, catalogue: Catalogue, timeout: float = 600) -> None:
    """Until search lists departures of the first route and hotels of the last city: the projection has caught up
    far enough for the searches to find what they look for."""
    print("bench: waiting for search to catch up…", flush=True)
    origin, destination = catalogue.routes[0]
    searches = [
        ("buses", {"origin": origin, "destination": destination, "date": catalogue.first_day}),
        ("hotels", {"city": catalogue.hotel_cities[-1], "check_in": catalogue.first_day,
                    "check_out": catalogue.third_day}),
    ]  # fmt: skip

    def caught_up() -> bool:
        return all(_finds(f"{gateway}/v1/search/{kind}", params) for kind, params in searches)

    if not wait_until(caught_up, timeout=timeout, interval=1):
        raise RuntimeError("search did not catch up")


def _finds(url: str, params: Mapping[str, str]) -> bool:
    found = requests.get(url, params=params, timeout=10)
    return found.ok and bool(found.json()["items"])


def run(scenario: Scenario, host: str, catalogue_file: Path, seconds: int, rate: float | None) -> Figures:
    pace = f" starting {rate:.1f} per second" if rate else ""
    print(f"bench: {scenario.name}: {scenario.users} clients{pace} for {seconds} s", flush=True)
    prefix = RESULTS / f"locust-{scenario.user}"
    # Paced clients start one by one, at most ``rate`` a second (over one period when there are more clients than
    # requests a second), so requests stay spread out instead of arriving in bursts, which would measure queueing
    # behind the burst rather than the latency at the rate.
    spawn_rate = min(rate, scenario.users) if rate else scenario.users
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "-u", str(scenario.users), "-r", f"{spawn_rate:.3f}", "-t", f"{seconds}s", "--host", host,
               "--csv", str(prefix), "--loglevel", "WARNING", scenario.user]  # fmt: skip
    env = os.environ | {"BENCH_CATALOGUE": str(catalogue_file), "BENCH_REFERENCE_CUSTOMERS": str(REFERENCE_CUSTOMERS)}
    if rate:
        env["BENCH_RATE_PER_CLIENT"] = str(rate / scenario.users)
    with Path(f"{prefix}.log").open("w") as log:  # locust's own summary, for a closer look
        subprocess.run(command, env=env, check=False, stdout=log, stderr=subprocess.STDOUT)
    return figures_of(scenario, Path(f"{prefix}_stats.csv"), seconds)


def figures_of(scenario: Scenario, stats: Path, seconds: int) -> Figures:
    with stats.open() as file:
        row = next(row for row in csv.DictReader(file) if row["Name"] == scenario.event)
    succeeded = int(row["Request Count"]) - int(row["Failure Count"])
    return Figures(scenario.name, succeeded / seconds, int(row["Failure Count"]), float(row["50%"]),
                   float(row["95%"]), float(row["99%"]))  # fmt: skip


def print_table(figures: list[Figures]) -> None:
    by_name = {f.scenario: f for f in figures}
    print(f"\n{'scenario':<26}{'per s':>9}{'turned down':>13}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'vs ref':>9}"
          f"{'lag p50':>9}{'lag p99':>9}")  # fmt: skip
    for figure in figures:
        reference = by_name.get(figure.scenario.replace("saga", "reference"))
        ratio = f"{figure.per_second / reference.per_second:.2f}x" if reference and reference is not figure else ""
        lag = f"{figure.lag_p50_ms:>9.0f}{figure.lag_p99_ms:>9.0f}" if figure.lag_events else ""
        print(f"{figure.scenario:<26}{figure.per_second:>9.1f}{figure.failures:>13}{figure.p50_ms:>9.0f}"
              f"{figure.p95_ms:>9.0f}{figure.p99_ms:>9.0f}{ratio:>9}{lag}")  # fmt: skip
    print(
        "\nlag: search's projection lag in ms, from inventory's commit to search applying the change, over the"
        " scenario (the search worker's histogram, interpolated within its buckets)"
    )


def write_json(name: str, content: object) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(content, indent=2))
    return path


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


if __name__ == "__main__":
    sys.exit(main())
