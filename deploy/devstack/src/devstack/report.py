"""What the stack tells its user: the welcome, readiness failures, `status` and `env`."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from devstack import SERVICES
from devstack.config import StackConfig, StackError, StackPaths, database_url_variable, port_variable
from devstack.envfile import read_env_file
from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres
from devstack.readiness import LOOPBACK, http_ok, tail
from devstack.seed import DEMO_ACCOUNTS
from devstack.supervisor import running_honcho

LOG_TAIL_LINES = 40


def print_welcome(gateway_port: int, paths: StackPaths) -> None:
    """Print the gateway URL and one development token per demo account."""
    # The services' own token code, so the tokens carry exactly the secret, issuer and audience
    # the services verify (AUTH_JWT_* from this environment, as in stack.env).
    from tripline.auth.tokens import issue_dev_token

    base = f"http://{LOOPBACK}:{gateway_port}"
    print(f"\nTripline is ready at {base}   (state and logs: {paths.state_dir})")
    print(f"  API documents: {base}/openapi/{{{','.join(SERVICES)}}}.json")
    print("Sample tokens (valid 1 hour; send as `Authorization: Bearer <token>`):")
    for sub, role in DEMO_ACCOUNTS:
        print(f"  {role:<8} {sub:<14} {issue_dev_token(sub, role)}")
    print(flush=True)


def readiness_failure(pending: Mapping[str, str], honcho_status: int | None, timeout: float, paths: StackPaths) -> str:
    """Explain what is not ready, with the end of the log of each process concerned."""
    if honcho_status is not None:
        return (
            f"a process of the stack exited, so honcho stopped them all (exit status {honcho_status});"
            f" the end of {paths.honcho_log}:\n{_log_lines(paths, '')}"
        )
    waiting = ", ".join(f"{name} ({url})" for name, url in pending.items())
    parts = [f"not ready after {timeout:.0f}s: {waiting}"]
    for name in pending:
        process = name.removesuffix("-web")  # a service's web and worker lines both matter
        parts.append(f"--- last lines of {process} in {paths.honcho_log} ---\n{_log_lines(paths, process)}")
    return "\n".join(parts)


def print_status(config: StackConfig) -> int:
    """Print what runs and on which ports; return 0 when the whole stack is up and ready."""
    paths = config.paths
    values = read_env_file(paths.env_file) if paths.env_file.exists() else {}
    print(f"state dir   {paths.state_dir}")
    print(f"postgres    {_postgres_line(EmbeddedPostgres(paths.postgres_dir), values)}")
    print(f"nats        {_nats_line(EmbeddedNats(paths.nats_dir), values)}")
    honcho = running_honcho(paths)
    if honcho is None:
        print("processes   not running")
        return 1
    print(f"processes   honcho pid {honcho.pid}, log {paths.honcho_log}")
    ready = True
    for service in SERVICES:
        port = values.get(port_variable(service), "?")
        ok = http_ok(f"http://{LOOPBACK}:{port}/readyz")
        ready = ready and ok
        print(f"  {service:<10}{LOOPBACK}:{port:<6} {'ready' if ok else 'NOT READY'}")
    gateway = f"http://{LOOPBACK}:{values.get('GATEWAY_PORT', config.gateway_port)}"
    ok = http_ok(f"{gateway}/healthz")
    print(f"gateway     {gateway} {'ready' if ok else 'NOT READY'}")
    return 0 if ready and ok else 1


def print_env(paths: StackPaths) -> int:
    """Print stack.env, secrets included: it exists to be pasted into a local shell or IDE."""
    if not paths.env_file.exists():
        raise StackError(f"{paths.env_file} does not exist yet: run `up` or `run` first")
    print(paths.env_file.read_text(), end="")
    return 0


def _postgres_line(postgres: EmbeddedPostgres, values: Mapping[str, str]) -> str:
    port = postgres.running_port()
    embedded = f"embedded, {LOOPBACK}:{port}" if port else "embedded, not running"
    external = sorted({_host_port(values[key]) for key in map(database_url_variable, SERVICES) if key in values})
    others = [where for where in external if where != f"{LOOPBACK}:{port}"]
    return embedded + (f"; databases also on {', '.join(others)}" if others else "")


def _nats_line(nats: EmbeddedNats, values: Mapping[str, str]) -> str:
    ports = nats.running_ports()
    embedded = f"embedded, nats://{LOOPBACK}:{ports[0]} (monitor :{ports[1]})" if ports else "embedded, not running"
    used = values.get("NATS_URL")
    if used and (ports is None or not used.endswith(f":{ports[0]}")):
        return f"{embedded}; stack uses {used}"
    return embedded


def _host_port(url: str) -> str:
    parts = urlsplit(url)  # the password stays out of the output
    return f"{parts.hostname}:{parts.port}"


def _log_lines(paths: StackPaths, process: str) -> str:
    text = tail(paths.honcho_log, lines=2000)
    lines = [line for line in text.splitlines() if not process or f" {process}-" in line or f" {process}." in line]
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(nothing logged)"
