"""What gunicorn refuses before any app sees the request is answered as problem details too, not as its HTML."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

# Any WSGI app will do: the refusals come from gunicorn, as configured for every service, before the app.
APP = "wsgiref.simple_server:demo_app"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--config", "python:tripline.http.gunicorn_conf"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", APP], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:  # not listening yet, or its worker still booting
            time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer at {url}")


def assert_problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:tripline:problem:{code}"
    assert problem["title"]
    assert problem["detail"]


def test_an_app_still_answers_what_gunicorn_reads(server: str) -> None:
    assert requests.get(server, timeout=5).status_code == 200


def test_a_header_field_larger_than_gunicorn_reads_is_a_431_problem(server: str) -> None:
    response = requests.get(server, headers={"Authorization": "Bearer " + "x" * 9000}, timeout=5)

    assert_problem(response, 431, "request_header_fields_too_large")


def test_more_header_fields_than_gunicorn_reads_are_a_431_problem(server: str) -> None:
    response = requests.get(server, headers={f"X-Padding-{n}": "x" for n in range(120)}, timeout=5)

    assert_problem(response, 431, "request_header_fields_too_large")


def test_a_request_line_longer_than_gunicorn_reads_is_a_414_problem(server: str) -> None:
    response = requests.get(f"{server}/?q={'x' * 5000}", timeout=5)

    assert_problem(response, 414, "uri_too_long")


def test_the_problem_does_not_quote_the_request(server: str) -> None:
    response = requests.get(f"{server}/?secret={'s' * 5000}", timeout=5)

    assert "sss" not in response.text
