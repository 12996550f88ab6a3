"""The whole platform as its clients meet it: every service's web server and worker, behind the Caddy gateway.

Tests drive it through ``tripline_ops.client.Tripline`` at the gateway's URL, as any API client would, and may
crash or restart any of its processes: a web server comes back on the port the gateway routes to.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from devstack.readiness import free_port
from tripline.auth.tokens import issue_dev_token
from tripline_ops.client import Tripline

from .platform import SERVICES, Platform, Process

# The saga's timers, quick enough for a test to see an expiry or a stuck booking.
QUICK_TIMERS = {"BOOKING_TIMER_SECONDS": "0.2", "HOLD_SWEEP_SECONDS": "0.2"}
# The services whose workers own a command stream, so must be ready before bookings sends them anything.
COMMANDED = ("inventory", "payments")


@dataclass
class WholePlatform:
    """Every service's web server and worker, and the gateway in front of the web servers."""

    platform: Platform
    env: dict[str, str]
    ports: dict[str, int]
    gateway: str = ""
    webs: dict[str, Process] = field(default_factory=dict)
    workers: dict[str, Process] = field(default_factory=dict)

    def client(self, sub: str, role: str) -> Tripline:
        """The API through the gateway as account ``sub`` in ``role``."""
        return Tripline(self.gateway, issue_dev_token(sub, role))

    def admin(self) -> Tripline:
        return self.client("ops", "admin")

    def anonymous(self) -> Tripline:
        return Tripline(self.gateway)

    def start_web(self, service: str, **extra_env: str) -> Process:
        self.webs[service] = self.platform.serve(service, self.ports[service], **(self.env | extra_env))
        return self.webs[service]

    def start_worker(self, service: str, **extra_env: str) -> Process:
        start = self.platform.ready_worker if service in COMMANDED else self.platform.worker
        self.workers[service] = start(service, **(self.env | extra_env))
        return self.workers[service]

    def extra_worker(self, service: str) -> Process:
        """Another replica of the service's worker, sharing its durable consumers."""
        return self.platform.worker(service, **self.env)


def start_whole_platform(platform: Platform, settings: Mapping[str, str] | None = None) -> WholePlatform:
    """Inventory's and payments' workers first (bookings commands them), then the rest, then the gateway."""
    env = QUICK_TIMERS | dict(settings or {})
    whole = WholePlatform(platform, env, {service: free_port() for service in SERVICES})
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(whole.start_worker, COMMANDED))
        list(pool.map(whole.start_web, SERVICES))
        list(pool.map(whole.start_worker, [service for service in SERVICES if service not in COMMANDED]))
    whole.gateway = platform.gateway(whole.ports)
    return whole
