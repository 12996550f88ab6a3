"""Free ports, bounded waits and log tails: what every embedded server needs to start safely."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import requests

LOOPBACK = "127.0.0.1"


class NotReadyError(RuntimeError):
    """A component did not become ready in time; the message says which and why."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    # The kernel picks an unused port for a bind to port 0. Another process could take it before our
    # server binds it; the window is tiny and the server then fails loudly, which is acceptable for dev.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Tell whether a server could listen on 127.0.0.1:<port> now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers bind (Caddy, gunicorn and PostgreSQL all set it): connections of a stack just stopped
        # linger in TIME_WAIT for a minute and would otherwise make its port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it returns true or ``timeout`` seconds pass; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Tell whether ``url`` answers 200 right now (connection errors count as no)."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a log file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])
