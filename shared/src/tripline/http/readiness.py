"""What ``/readyz`` checks: the database answers, its schema is at the newest migration, NATS answers."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine

from tripline.migrations import database_revision, head_revision, known_revisions

CACHE_SECONDS = 2.0


@dataclass
class Readiness:
    """Checks with a short cache, so a probe storm does not become a database storm."""

    engine: Engine
    migrations_dir: Path
    nats_url: str
    _cached: tuple[float, dict[str, str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._head = head_revision(self.migrations_dir)
        self._known = known_revisions(self.migrations_dir)

    def checks(self) -> dict[str, str]:
        """Each dependency with ``ok`` or why it is not."""
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
            self._cached = (now, self._run())
        return self._cached[1]

    def _run(self) -> dict[str, str]:
        try:
            revision = database_revision(self.engine)  # reading it is the reachability check too
        except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
            return {"database": "unreachable", "migrations": "unknown", "nats": self._nats()}
        return {"database": "ok", "migrations": self._schema(revision), "nats": self._nats()}

    def _schema(self, revision: str | None) -> str:
        if revision is None:
            return f"not migrated (expected {self._head})"
        # A revision this code does not know is a newer release's: migrations are backward compatible
        # (expand, then contract), so old replicas keep serving during a rolling deploy.
        if revision != self._head and revision in self._known:
            return f"behind: at {revision}, expected {self._head}"
        return "ok"

    def _nats(self) -> str:
        return "ok" if nats_answers(self.nats_url) else "unreachable"


def nats_answers(nats_url: str, timeout: float = 1.0) -> bool:
    """True when a NATS server greets us with INFO (web processes never hold a NATS connection)."""
    first = nats_url.split(",")[0]
    parts = urlsplit(first if "://" in first else f"nats://{first}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(5).startswith(b"INFO")
    except OSError:
        return False
