"""`make demo`: the narrated walk-through, run as a newcomer runs it, against the whole platform behind its gateway."""

from __future__ import annotations

import subprocess
import sys

from devstack.readiness import free_port

from .platform import Platform
from .whole_platform import start_whole_platform

DEMO_TIMEOUT_SECONDS = 300


def run_demo(gateway: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tripline_ops.demo", "--gateway", gateway]
    return subprocess.run(command, env=env, capture_output=True, encoding="utf-8", timeout=DEMO_TIMEOUT_SECONDS)


def test_the_demo_books_pays_cancels_and_refunds_and_runs_again(platform: Platform) -> None:
    whole = start_whole_platform(platform)

    for run in ("first", "second"):
        demo = run_demo(whole.gateway, platform.env)
        story = demo.stdout

        assert demo.returncode == 0, f"{run} run:\n{story}\n{demo.stderr}"
        assert ": confirmed, total ₹9,900.00" in story, story
        assert ": reserved until" in story, story
        assert ": confirmed, ₹900.00" in story, story
        assert ": cancelled, refund ₹9,900.00 of ₹9,900.00" in story, story
        # 12,000 topped up, 9,900 and 900 paid, 9,900 refunded.
        assert "wallet balance ₹11,100.00" in story, story
        assert "pending → reserved" in story, story
        assert "cancelling → cancelled" in story, story
        assert f"Gateway: {whole.gateway}" in story, story
        assert "make token" in story, story


def test_an_api_error_stops_the_demo_naming_the_step_status_code_and_detail(platform: Platform) -> None:
    whole = start_whole_platform(platform)
    whole.webs["payments"].stop()

    demo = run_demo(whole.gateway, platform.env)

    assert demo.returncode == 1, demo.stdout
    assert demo.stderr.startswith("step 4 (The traveller tops up the wallet"), demo.stderr
    assert "POST /v1/wallets/me/top-ups: 502 service_unavailable: The service behind this path" in demo.stderr


def test_the_demo_without_a_gateway_says_how_to_start_one(platform: Platform) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"

    demo = run_demo(gateway, platform.env)

    assert demo.returncode == 1
    assert demo.stderr.strip() == f"no gateway at {gateway}: start the platform with make up"
