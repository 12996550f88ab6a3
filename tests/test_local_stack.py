"""`python -m devstack up`/`down` with the real services: the acceptance of the local stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import requests

from devstack.envfile import read_env_file
from devstack.readiness import free_port

from .platform import ADMIN, SERVICES, Platform


def _devstack(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", command], env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_up_serves_every_service_behind_the_gateway_and_down_leaves_no_process(
    platform: Platform, tmp_path: Path
) -> None:
    # The session's PostgreSQL and NATS stand in for servers the stack is pointed at; it starts neither.
    env = platform.env | {"STATE_DIR": str(tmp_path / "state"), "GATEWAY_PORT": str(free_port())}
    up = _devstack("up", env)
    assert up.returncode == 0, up.stdout + up.stderr
    stack_env = read_env_file(tmp_path / "state" / "stack.env")
    honcho = psutil.Process(int((tmp_path / "state" / "honcho.pid").read_text()))
    stack_processes = [honcho, *honcho.children(recursive=True)]
    try:
        gateway = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        assert requests.get(f"{gateway}/healthz", timeout=5).status_code == 200
        for service in SERVICES:
            ready = requests.get(f"http://127.0.0.1:{stack_env[f'{service.upper()}_PORT']}/readyz", timeout=5)
            assert ready.status_code == 200, (service, ready.text)
            document = requests.get(f"{gateway}/openapi/{service}.json", timeout=5)
            assert document.json()["info"]["title"] == f"Tripline {service}"
        assert not (tmp_path / "state" / "postgres").exists()
        # Seeded: the demo operator is approved and its departures are on sale, through the gateway.
        operators = requests.get(f"{gateway}/v1/operators?approval_status=approved", headers=ADMIN, timeout=5).json()
        assert [operator["account_id"] for operator in operators["items"]] == ["demo-operator"]
    finally:
        down = _devstack("down", env)

    assert down.returncode == 0, down.stdout + down.stderr
    survivors = [p for p in stack_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    assert len(stack_processes) >= 1 + 2 * len(SERVICES) + 1  # honcho, web and worker of each, gateway
