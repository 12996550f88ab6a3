"""Stand-ins for the four services, so the stack tests pin devstack's orchestration, not the services.

``python -m fake_service web <service> <port>`` answers /healthz, /readyz (503 when the service is
listed in FAKE_UNREADY) and echoes any other path; ``... worker <service>`` idles until signalled;
``cli(service, ["migrate"])`` creates a table in the service's database, as a migration would.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg


def cli(service: str, args: list[str]) -> int:
    """`migrate` proves the service's URL reaches a database its role may change; `seed` says it ran."""
    if args == ["seed"]:
        print(f"fake {service}: seeded")
        return 0
    if args != ["migrate"]:
        print(f"fake {service} cli: unknown command {args}", file=sys.stderr)
        return 2
    with psycopg.connect(os.environ[f"{service.upper()}_DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS migrated (service text)")
    print(f"fake {service}: migrated")
    return 0


def web(service: str, port: int) -> None:
    """Serve until terminated."""
    unready = service in os.environ.get("FAKE_UNREADY", "").split(",")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 503 if unready and self.path == "/readyz" else 200
            body = json.dumps({"service": service, "path": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"fake {service} web: {format % args}", flush=True)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def worker(service: str) -> None:
    """Idle like a worker waiting for messages, until SIGTERM."""
    print(f"fake {service} worker: waiting", flush=True)
    signal.pause()


if __name__ == "__main__":
    kind, name = sys.argv[1], sys.argv[2]
    if kind == "web":
        web(name, int(sys.argv[3]))
    else:
        worker(name)
