"""The Caddy gateway in front of a stand-in upstream: routes, request ids, body limit, problems."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from devstack import SERVICES
from devstack.gateway import (
    ROUTES,
    TOO_LARGE_CONTENT_LENGTH,
    caddy_run_command,
    render_caddyfile,
    validate_caddyfile,
    write_caddyfile,
)
from devstack.readiness import free_port, http_ok, wait_until

PROBLEM = "application/problem+json"


class EchoUpstream(BaseHTTPRequestHandler):
    """Stands in for a service: reads the whole body first (as gunicorn + Flask do), echoes the request.

    Header names are echoed lower-cased: the gateway (Go) canonicalises them to ``X-Request-Id``.
    """

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._echo(b"")

    def do_POST(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True  # the gateway aborted an oversized upload mid-body
            return
        self._echo(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def _echo(self, body: bytes) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        payload = json.dumps({"path": self.path, "headers": headers, "body_bytes": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if "X-Request-ID" in self.headers:  # services echo it too; the gateway must not duplicate it
            self.send_header("X-Request-ID", self.headers["X-Request-ID"])
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(upstream: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Caddy routing search to the stand-in; every other service's port has nothing listening."""
    state_dir = tmp_path_factory.mktemp("gateway")
    ports = {service: free_port() for service in SERVICES} | {"search": upstream}
    port = free_port()
    caddyfile = write_caddyfile(state_dir / "Caddyfile", port, ports, state_dir)
    with (state_dir / "caddy.log").open("wb") as log:
        caddy = subprocess.Popen(caddy_run_command(caddyfile), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: caddy.poll() is not None or http_ok(f"{base}/healthz"), timeout=30)
        assert caddy.poll() is None, (state_dir / "caddy.log").read_text()
        yield base, state_dir
    finally:
        caddy.terminate()
        caddy.wait(timeout=30)


def test_rendered_caddyfile_passes_caddy_validate(tmp_path: Path) -> None:
    ports = {service: 9000 + index for index, service in enumerate(SERVICES)}
    path = write_caddyfile(tmp_path / "Caddyfile", 8080, ports, tmp_path)
    validate_caddyfile(path)
    text = render_caddyfile(8080, ports, tmp_path)
    assert "bind 127.0.0.1" in text
    assert "http://:8080" in text
    for service, prefixes in ROUTES.items():
        for prefix in prefixes:
            assert f"{prefix} {prefix}/*" in text
        assert f"handle /openapi/{service}.json" in text


def test_invalid_caddyfile_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "Caddyfile"
    path.write_text("http://:1 {\n\tno_such_directive\n}\n")
    with pytest.raises(ValueError, match="no_such_directive"):
        validate_caddyfile(path)


@pytest.mark.parametrize(
    ("length", "too_large"),
    [
        ("0", False),
        ("1", False),
        ("65535", False),
        ("65536", False),
        ("065536", False),
        ("65537", True),
        ("65539", True),
        ("65540", True),
        ("65599", True),
        ("65600", True),
        ("65999", True),
        ("66000", True),
        ("69999", True),
        ("70000", True),
        ("99999", True),
        ("100000", True),
        ("102400", True),
        ("0065537", True),
    ],
)
def test_content_length_pattern_matches_exactly_the_lengths_above_64_kib(length: str, too_large: bool) -> None:
    assert bool(re.match(TOO_LARGE_CONTENT_LENGTH, length)) is too_large


def test_search_paths_reach_the_search_service_with_query_and_token(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.get(f"{base}/v1/search/buses?origin=Pune&seats=2", headers={"Authorization": "Bearer t"})
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == "/v1/search/buses?origin=Pune&seats=2"
    assert seen["headers"]["authorization"] == "Bearer t"


def test_a_request_id_is_added_when_missing_and_echoed_once(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.get(f"{base}/v1/search")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id)
    assert response.json()["headers"]["x-request-id"] == request_id


def test_a_client_request_id_is_kept(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.get(f"{base}/v1/search/hotels", headers={"X-Request-ID": "client-chosen-1"})
    assert response.headers["X-Request-ID"] == "client-chosen-1"
    assert response.json()["headers"]["x-request-id"] == "client-chosen-1"


def test_openapi_document_comes_from_the_service(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    assert requests.get(f"{base}/openapi/search.json").json()["path"] == "/openapi.json"


def test_a_body_of_exactly_64_kib_is_passed_on(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.post(f"{base}/v1/search/x", data=b"a" * 65536)
    assert response.status_code == 200
    assert response.json()["body_bytes"] == 65536


def test_a_100_kb_body_with_content_length_is_a_413_problem(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.post(f"{base}/v1/search/x", data=b"a" * 102400)
    _assert_problem(response, 413, "payload_too_large")


def test_a_100_kb_chunked_body_is_a_413_problem(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    chunks = (b"a" * 10240 for _ in range(10))  # a generator: requests sends it chunked
    response = requests.post(f"{base}/v1/search/x", data=chunks)
    _assert_problem(response, 413, "payload_too_large")


def test_gateway_healthz_is_answered_by_caddy(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/nowhere", "/v1/unknown", "/v1/searchx", "/openapi/unknown.json"])
def test_an_unknown_path_is_a_404_problem(gateway: tuple[str, Path], path: str) -> None:
    base, _ = gateway
    response = requests.get(f"{base}{path}")
    _assert_problem(response, 404, "not_found")
    assert response.headers["X-Request-ID"]


def test_a_service_that_is_down_is_a_502_problem(gateway: tuple[str, Path]) -> None:
    base, _ = gateway
    response = requests.post(f"{base}/v1/bookings", json={})
    _assert_problem(response, 502, "service_unavailable")


def test_access_log_is_json_without_credentials(gateway: tuple[str, Path]) -> None:
    base, state_dir = gateway
    requests.get(f"{base}/v1/search/logged", headers={"Authorization": "Bearer secret-in-header"})
    log = state_dir / "logs" / "gateway-access.log"
    assert wait_until(lambda: "/v1/search/logged" in log.read_text(), timeout=10)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(entry["request"]["uri"] == "/v1/search/logged" for entry in entries)
    assert "secret-in-header" not in log.read_text()


def _assert_problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["type"] == f"urn:tripline:problem:{code}"
    assert problem["title"]
    assert problem["detail"]
