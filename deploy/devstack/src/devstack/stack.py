"""Bring the local stack up and down: servers, databases, migrations, honcho, readiness, seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from devstack import SERVICES
from devstack.config import StackConfig, StackError, database_url_variable, port_variable, worker_metrics_port_variable
from devstack.envfile import write_env_file
from devstack.gateway import write_caddyfile
from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres
from devstack.provision import provision_service_databases
from devstack.readiness import LOOPBACK, free_port, http_ok, port_is_free, wait_until
from devstack.report import print_welcome, readiness_failure
from devstack.supervisor import running_honcho, stack_processes, start_honcho, stop_honcho, terminate

MIGRATE_TIMEOUT_SECONDS = 300
SEED_TIMEOUT_SECONDS = 300
BIN_DIR = Path(sys.executable).parent


def procfile_path() -> Path:
    """deploy/Procfile of this checkout (``DEVSTACK_PROCFILE`` overrides it, e.g. in tests)."""
    override = os.environ.get("DEVSTACK_PROCFILE")
    if override:
        return Path(override).absolute()
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / "deploy" / "Procfile").is_file():
            return base / "deploy" / "Procfile"
    raise StackError("deploy/Procfile not found: run from the repository root")


def process_env(values: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment plus the stack's, with this venv's bin/ first on PATH."""
    # `gunicorn`, `caddy` and `python` in the Procfile must be this venv's, whatever the shell's PATH.
    path = os.pathsep.join([str(BIN_DIR), os.environ.get("PATH", "")])
    return {**os.environ, **values, "PATH": path}


class Stack:
    """One local stack under ``config.paths.state_dir``."""

    def __init__(self, config: StackConfig) -> None:
        self.config, self.paths = config, config.paths
        self.postgres = EmbeddedPostgres(self.paths.postgres_dir)
        self.nats = EmbeddedNats(self.paths.nats_dir)
        # What this invocation started, so a failure or Ctrl-C stops exactly that.
        self._started_servers: list[EmbeddedPostgres | EmbeddedNats] = []
        self._started_honcho = False
        self._service_ports_chosen: dict[str, int] = {}

    def up(self) -> int:
        """Start everything in the background; return once it is ready (a no-op when already up)."""
        honcho = running_honcho(self.paths)
        if honcho is not None:
            print(f"devstack: already up (honcho pid {honcho.pid}); `status` shows what runs")
            return 0
        with _signals_as_interrupts():
            try:
                env = self._prepare()
                self.paths.logs_dir.mkdir(parents=True, exist_ok=True)
                with self.paths.honcho_log.open("ab") as log:
                    process = self._start_honcho(env, log)
                self._become_ready(env, process)
            except BaseException:
                self._stop_started()
                raise
        print(f"devstack: up in the background; logs in {self.paths.logs_dir}, stop with `down`")
        return 0

    def run(self) -> int:
        """Start everything in the foreground until Ctrl-C/SIGTERM, then stop what this run started."""
        if running_honcho(self.paths) is not None:
            raise StackError("the stack already runs in the background: `down` it first")
        with _signals_as_interrupts():
            try:
                env = self._prepare()
                process = self._start_honcho(env, subprocess.PIPE)
                tee = _tee(process, self.paths.honcho_log)
                self._become_ready(env, process)
                returncode = process.wait()
                tee.join()
                print(f"devstack: a process exited (honcho status {returncode}); stopping", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print("\ndevstack: stopping", file=sys.stderr)
                return 0
            finally:
                self._stop_started()

    def down(self) -> int:
        """Stop honcho's processes, then NATS and PostgreSQL; fail if any stack process remains."""
        stopped = []
        if stop_honcho(self.paths):
            stopped.append("services and gateway")
        if self.nats.stop():
            stopped.append("nats")
        if self.postgres.stop():
            stopped.append("postgres")
        leftovers = stack_processes(self.paths)
        if leftovers:
            stopped.append(f"{len(leftovers)} leftover process(es)")
            terminate(leftovers, timeout=10)
        remaining = stack_processes(self.paths)
        if remaining:
            names = ", ".join(f"{process.pid}" for process in remaining)
            raise StackError(f"processes of the stack survived SIGKILL: {names}")
        if stopped:
            print(f"devstack: stopped {', '.join(stopped)}")
        return 0

    def _prepare(self) -> dict[str, str]:
        """Ensure servers and databases, choose ports, write stack.env and the Caddyfile, migrate."""
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        if not port_is_free(self.config.gateway_port):
            raise StackError(
                f"GATEWAY_PORT {self.config.gateway_port} is in use on {LOOPBACK}: set another GATEWAY_PORT, "
                "or `python -m devstack down` if it is a stack left running"
            )
        ports = self._service_ports_chosen = self._service_ports()
        values = {
            **self._database_urls(),
            "NATS_URL": self._nats_url(),
            **{port_variable(svc): str(port) for svc, port in ports.items()},
            **self._worker_metrics_ports(taken=set(ports.values())),
            "STATE_DIR": str(self.paths.state_dir),
            "GATEWAY_PORT": str(self.config.gateway_port),
            "PYTHONUNBUFFERED": "1",  # worker and web logs reach honcho's log as they happen
            **self.config.passthrough,
        }
        write_env_file(self.paths.env_file, values)
        write_caddyfile(self.paths.caddyfile, self.config.gateway_port, ports, self.paths.state_dir)
        env = process_env(values)
        self._migrate(env)
        return env

    def _database_urls(self) -> dict[str, str]:
        urls = dict(self.config.database_urls)
        services = self.config.embedded_database_services
        if services:
            self._start_server(self.postgres, "postgres")
            urls.update(
                provision_service_databases(self.postgres.admin_url, services, secrets_dir=self.paths.state_dir)
            )
        return {database_url_variable(svc): urls[svc] for svc in SERVICES}

    def _nats_url(self) -> str:
        if self.config.nats_url:
            return self.config.nats_url
        self._start_server(self.nats, "nats")
        return self.nats.url

    def _start_server(self, server: EmbeddedPostgres | EmbeddedNats, name: str) -> None:
        started = server.start()
        if started:
            self._started_servers.append(server)
        print(f"devstack: {name} {'started' if started else 'already running'} on {LOOPBACK}:{server.port}")

    def _service_ports(self) -> dict[str, int]:
        """Configured ports as given; a distinct free port for every other service."""
        configured = self.config.service_ports
        taken = {self.config.gateway_port, *configured.values()}
        return {service: configured.get(service) or _free_port_besides(taken) for service in SERVICES}

    def _worker_metrics_ports(self, taken: set[int]) -> dict[str, str]:
        """A free port for each worker's ``/metrics``, so the relay, consumers and projection lag can be read."""
        taken.add(self.config.gateway_port)
        return {worker_metrics_port_variable(service): str(_free_port_besides(taken)) for service in SERVICES}

    def _migrate(self, env: Mapping[str, str]) -> None:
        for service in SERVICES:
            print(f"devstack: migrating {service}", flush=True)
            command = [sys.executable, "-m", f"{service}.entrypoints.cli", "migrate"]
            result = subprocess.run(
                command,
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=MIGRATE_TIMEOUT_SECONDS,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(f"migrating {service} failed:\n{result.stdout}{result.stderr}")

    def _start_honcho(self, env: Mapping[str, str], output: IO[bytes] | int) -> subprocess.Popen[bytes]:
        procfile = procfile_path()
        print(f"devstack: starting {procfile} with honcho (log: {self.paths.honcho_log})", flush=True)
        self._started_honcho = True
        return start_honcho(self.paths, procfile, env, output)

    def _become_ready(self, env: Mapping[str, str], honcho: subprocess.Popen[bytes]) -> None:
        """Wait for the gateway and every service's /readyz, then seed and print the welcome."""
        self._wait_ready(honcho)
        if self.config.seed:
            result = subprocess.run(
                [sys.executable, "-m", "devstack.seed"], env=dict(env), timeout=SEED_TIMEOUT_SECONDS, check=False
            )
            if result.returncode != 0:
                raise StackError("seeding failed (see its output above); SEED=0 skips it")
        print_welcome(self.config.gateway_port, self.paths)

    def _wait_ready(self, honcho: subprocess.Popen[bytes]) -> None:
        pending = {"gateway": f"http://{LOOPBACK}:{self.config.gateway_port}/healthz"}
        for service, port in self._service_ports_chosen.items():
            pending[f"{service}-web"] = f"http://{LOOPBACK}:{port}/readyz"

        def ready_or_exited() -> bool:
            for name, url in list(pending.items()):
                if http_ok(url):
                    del pending[name]
            return not pending or honcho.poll() is not None

        print(f"devstack: waiting up to {self.config.ready_timeout:.0f}s for readiness", flush=True)
        wait_until(ready_or_exited, timeout=self.config.ready_timeout, interval=0.5)
        if pending or honcho.poll() is not None:
            raise StackError(readiness_failure(pending, honcho.poll(), self.config.ready_timeout, self.paths))

    def _stop_started(self) -> None:
        # A second Ctrl-C must not abandon the cleanup halfway and leave servers behind.
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self._started_honcho:
                stop_honcho(self.paths)
            for server in reversed(self._started_servers):
                server.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _tee(process: subprocess.Popen[bytes], log_path: Path) -> threading.Thread:
    """Copy honcho's output to the terminal and to its log file, so failures can quote the log."""
    assert process.stdout is not None
    stream = process.stdout
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        with log_path.open("ab") as log:
            for line in iter(stream.readline, b""):
                log.write(line)
                log.flush()
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()

    thread = threading.Thread(target=copy, name="honcho-output", daemon=True)
    thread.start()
    return thread


@contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP all stop the stack, so cleanup runs in `finally`."""

    # SIGINT too, explicitly: a shell starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, interrupt) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _free_port_besides(taken: set[int]) -> int:
    """A free port none of ``taken`` uses, added to it."""
    port = free_port()
    while port in taken:
        port = free_port()
    taken.add(port)
    return port
