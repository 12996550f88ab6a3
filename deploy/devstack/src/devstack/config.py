"""What the local stack is asked to do, read once from the environment, and where it keeps its files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack import SERVICES
from devstack.gateway import DEFAULT_GATEWAY_PORT

# Settings the services read themselves; recorded in stack.env when the caller set them.
PASSTHROUGH_VARIABLES = (
    "AUTH_JWT_SECRET",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_AUDIENCE",
    "BOOKING_HOLD_TTL_SECONDS",
    "HOLD_GRACE_SECONDS",
    "PLATFORM_CURRENCY",
)
DEFAULT_READY_TIMEOUT_SECONDS = 120.0


class StackError(RuntimeError):
    """The stack cannot start or stop as asked; the message says why and what to look at."""


def database_url_variable(service: str) -> str:
    """``INVENTORY_DATABASE_URL`` for ``inventory``."""
    return f"{service.upper()}_DATABASE_URL"


def port_variable(service: str) -> str:
    """``INVENTORY_PORT`` for ``inventory``."""
    return f"{service.upper()}_PORT"


def worker_metrics_port_variable(service: str) -> str:
    """``INVENTORY_WORKER_METRICS_PORT`` for ``inventory``: where its worker serves ``/metrics``."""
    return f"{service.upper()}_WORKER_METRICS_PORT"


@dataclass(frozen=True)
class StackPaths:
    """Every file the stack writes lives under one state directory."""

    state_dir: Path

    @property
    def postgres_dir(self) -> Path:
        """Data directory of the embedded PostgreSQL."""
        return self.state_dir / "postgres"

    @property
    def nats_dir(self) -> Path:
        """JetStream store of the embedded NATS."""
        return self.state_dir / "nats"

    @property
    def logs_dir(self) -> Path:
        """Server, gateway and process logs."""
        return self.state_dir / "logs"

    @property
    def env_file(self) -> Path:
        """KEY=value lines every process of the stack runs with."""
        return self.state_dir / "stack.env"

    @property
    def caddyfile(self) -> Path:
        """The rendered gateway configuration."""
        return self.state_dir / "Caddyfile"

    @property
    def honcho_pid(self) -> Path:
        """Pid of the honcho that supervises the services and the gateway."""
        return self.state_dir / "honcho.pid"

    @property
    def honcho_log(self) -> Path:
        """Everything the supervised processes print, prefixed with their names."""
        return self.logs_dir / "honcho.log"


@dataclass(frozen=True)
class StackConfig:
    """The stack's settings; servers named by URL are used as they are, the rest are embedded."""

    paths: StackPaths
    gateway_port: int
    seed: bool
    database_urls: Mapping[str, str]
    nats_url: str | None
    service_ports: Mapping[str, int]
    passthrough: Mapping[str, str]
    ready_timeout: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        """Read the configuration from ``environ`` (default: os.environ), failing on bad values."""
        env = os.environ if environ is None else environ
        state_dir = Path(env.get("STATE_DIR") or ".dev").absolute()
        return cls(
            paths=StackPaths(state_dir),
            gateway_port=_int(env, "GATEWAY_PORT", DEFAULT_GATEWAY_PORT),
            seed=env.get("SEED", "1").strip() not in ("0", "", "false", "no"),
            database_urls={
                svc: env[database_url_variable(svc)] for svc in SERVICES if env.get(database_url_variable(svc))
            },
            nats_url=env.get("NATS_URL") or None,
            service_ports={svc: _int(env, port_variable(svc), 0) for svc in SERVICES if env.get(port_variable(svc))},
            passthrough={name: env[name] for name in PASSTHROUGH_VARIABLES if env.get(name)},
            ready_timeout=float(_int(env, "DEVSTACK_READY_TIMEOUT", int(DEFAULT_READY_TIMEOUT_SECONDS))),
        )

    @property
    def embedded_database_services(self) -> list[str]:
        """Services whose database the embedded PostgreSQL must provide."""
        return [svc for svc in SERVICES if svc not in self.database_urls]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, got {raw!r}") from None
