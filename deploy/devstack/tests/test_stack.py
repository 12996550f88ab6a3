"""`python -m devstack` end to end with fake services: up, status, env, down, run + Ctrl-C, failures."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from devstack import SERVICES
from devstack.config import StackConfig, StackError
from devstack.envfile import read_env_file, write_env_file
from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres
from devstack.provision import provision_service_databases
from devstack.readiness import wait_until

Devstack = Callable[[dict[str, str], str], "subprocess.CompletedProcess[str]"]
EXPECTED_VARIABLES = {
    *(f"{service.upper()}_DATABASE_URL" for service in SERVICES),
    *(f"{service.upper()}_PORT" for service in SERVICES),
    *(f"{service.upper()}_WORKER_METRICS_PORT" for service in SERVICES),
    "NATS_URL",
    "STATE_DIR",
    "GATEWAY_PORT",
    "PYTHONUNBUFFERED",
}


def test_config_defaults_and_overrides(tmp_path: Path) -> None:
    default = StackConfig.from_environ({})
    assert default.paths.state_dir == Path(".dev").absolute()
    assert (default.gateway_port, default.seed, default.nats_url) == (8080, True, None)
    assert default.embedded_database_services == list(SERVICES)

    config = StackConfig.from_environ(
        {
            "STATE_DIR": str(tmp_path),
            "GATEWAY_PORT": "9999",
            "SEED": "0",
            "NATS_URL": "nats://10.0.0.1:4222",
            "BOOKINGS_DATABASE_URL": "postgresql://b@db/b",
            "SEARCH_PORT": "7001",
            "AUTH_JWT_SECRET": "s",
        }
    )
    assert (config.gateway_port, config.seed, config.nats_url) == (9999, False, "nats://10.0.0.1:4222")
    assert config.embedded_database_services == ["inventory", "payments", "search"]
    assert config.service_ports == {"search": 7001}
    assert config.passthrough == {"AUTH_JWT_SECRET": "s"}


def test_a_malformed_port_names_its_variable() -> None:
    with pytest.raises(StackError, match="GATEWAY_PORT"):
        StackConfig.from_environ({"GATEWAY_PORT": "eighty"})


def test_env_file_round_trips_awkward_values_and_is_private(tmp_path: Path) -> None:
    values = {"A_URL": "postgresql://u:p%23w@127.0.0.1:5/db?x=1&y=2", "SPACED": "a b # c", "EMPTY": ""}
    path = tmp_path / "stack.env"
    write_env_file(path, values)
    assert read_env_file(path) == values
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_down_with_nothing_running_succeeds_quietly(stack_env: dict[str, str], devstack: Devstack) -> None:
    result = devstack(stack_env, "down")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_env_before_any_up_says_what_to_do(stack_env: dict[str, str], devstack: Devstack) -> None:
    result = devstack(stack_env, "env")
    assert result.returncode == 1
    assert "run `up` or `run` first" in result.stderr


def test_up_status_env_and_down(
    stack_env: dict[str, str], devstack: Devstack, processes_naming: Callable[[Path], list[psutil.Process]]
) -> None:
    up = devstack(stack_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    gateway = f"http://127.0.0.1:{stack_env['GATEWAY_PORT']}"
    assert f"Tripline is ready at {gateway}" in up.stdout
    assert "fake inventory: seeded" in up.stdout  # the seed step ran
    assert "bookings: bookings are the customers' own" in up.stdout  # and said where the rest comes from
    assert "customer" in up.stdout
    assert "eyJ" in up.stdout

    again = devstack(stack_env, "up")
    assert again.returncode == 0
    assert "already up" in again.stdout

    status = devstack(stack_env, "status")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("ready") >= len(SERVICES) + 1
    assert "NOT READY" not in status.stdout

    state_dir = Path(stack_env["STATE_DIR"])
    values = read_env_file(state_dir / "stack.env")
    assert set(values) == EXPECTED_VARIABLES
    ports = [value for name, value in values.items() if name.endswith("_PORT")]
    assert len(set(ports)) == len(ports)  # each web server, worker's /metrics and the gateway has a port of its own
    assert stat.S_IMODE((state_dir / "stack.env").stat().st_mode) == 0o600
    assert devstack(stack_env, "env").stdout == (state_dir / "stack.env").read_text()

    routed = requests.get(f"{gateway}/v1/search/buses", timeout=10).json()
    assert routed == {"service": "search", "path": "/v1/search/buses"}
    _assert_databases_are_isolated(values)

    down = devstack(stack_env, "down")
    assert down.returncode == 0, down.stderr
    assert "stopped services and gateway, nats, postgres" in down.stdout
    assert processes_naming(state_dir) == []
    assert not (state_dir / "honcho.pid").exists()
    assert devstack(stack_env, "status").returncode == 1


def test_up_that_cannot_become_ready_says_why_and_leaves_nothing(
    stack_env: dict[str, str], devstack: Devstack, processes_naming: Callable[[Path], list[psutil.Process]]
) -> None:
    stack_env.update(FAKE_UNREADY="payments", DEVSTACK_READY_TIMEOUT="3")
    up = devstack(stack_env, "up")
    assert up.returncode == 1
    assert "not ready after 3s: payments-web" in up.stderr
    assert "fake payments" in up.stderr  # the tail of the service's log
    assert processes_naming(Path(stack_env["STATE_DIR"])) == []


def test_existing_servers_named_by_url_are_used_instead_of_embedded_ones(
    stack_env: dict[str, str], devstack: Devstack, postgres_and_nats: tuple[dict[str, str], str]
) -> None:
    urls, nats_url = postgres_and_nats
    stack_env.update({f"{svc.upper()}_DATABASE_URL": url for svc, url in urls.items()}, NATS_URL=nats_url)
    up = devstack(stack_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    state_dir = Path(stack_env["STATE_DIR"])
    assert not (state_dir / "postgres").exists()
    assert not (state_dir / "nats").exists()
    values = read_env_file(state_dir / "stack.env")
    assert values["NATS_URL"] == nats_url
    assert values["INVENTORY_DATABASE_URL"] == urls["inventory"]


def test_run_stops_everything_on_ctrl_c(
    stack_env: dict[str, str], tmp_path: Path, processes_naming: Callable[[Path], list[psutil.Process]]
) -> None:
    output = tmp_path / "run.out"
    with output.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "devstack", "run"], env=stack_env, stdout=out, stderr=out)
    try:
        ready = wait_until(lambda: run.poll() is not None or "Tripline is ready" in output.read_text(), timeout=120)
        assert ready, output.read_text()
        assert run.poll() is None, output.read_text()
        assert processes_naming(Path(stack_env["STATE_DIR"]))  # postgres, nats, honcho, caddy
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=90) == 0, output.read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert processes_naming(Path(stack_env["STATE_DIR"])) == []
    assert "devstack: stopping" in output.read_text()


@pytest.fixture
def postgres_and_nats(
    embedded_postgres: EmbeddedPostgres, embedded_nats: EmbeddedNats, tmp_path: Path
) -> tuple[dict[str, str], str]:
    """Databases on the shared test server, as an operator's own PostgreSQL would provide them."""
    urls = provision_service_databases(embedded_postgres.admin_url, secrets_dir=tmp_path)
    return urls, embedded_nats.url


def _assert_databases_are_isolated(values: dict[str, str]) -> None:
    with psycopg.connect(values["INVENTORY_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM migrated").fetchone() == (0,)  # the fake migration ran
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(values["INVENTORY_DATABASE_URL"], dbname="tripline_bookings")
    assert os.environ.get("STATE_DIR") != values["STATE_DIR"]  # the test never touched the real .dev
