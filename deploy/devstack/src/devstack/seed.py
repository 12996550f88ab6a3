"""Demo data for the local stack: ``python -m devstack.seed`` runs each service's seed command.

Services add their command to SEEDERS, e.g. ``"inventory.entrypoints.cli seed"`` (run as
``python -m inventory.entrypoints.cli seed`` with the stack's environment). Seeders run in list order,
so put inventory first: search builds its read model from inventory's events. A seeder must be
idempotent, because every `run`/`up` seeds again (``SEED=0`` skips it).
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from devstack import SERVICES

SEEDERS: list[str] = ["inventory.entrypoints.cli seed", "payments.entrypoints.cli seed"]
# Services whose demo data comes from another's: nothing to seed, and not missing either.
DERIVED: dict[str, str] = {
    "bookings": "bookings are the customers' own; `make demo` places some",
    "search": "its read model follows inventory's events",
}

# Accounts the sample tokens are issued for; seeders create demo resources owned by these subs.
DEMO_ACCOUNTS: list[tuple[str, str]] = [
    ("demo-customer", "customer"),
    ("demo-operator", "operator"),
    ("demo-owner", "owner"),
    ("demo-admin", "admin"),
]


def seeder_service(seeder: str) -> str:
    """The service a seed command belongs to: the top-level package of its module."""
    return seeder.split()[0].split(".")[0]


def main() -> int:
    """Run every seeder; say which services have no demo data yet. Exit non-zero on a failure."""
    for seeder in SEEDERS:
        print(f"seed: {seeder}", flush=True)
        result = subprocess.run([sys.executable, "-m", *shlex.split(seeder)], check=False)
        if result.returncode != 0:
            print(f"seed: {seeder} failed (exit status {result.returncode})", file=sys.stderr)
            return result.returncode
    seeded = {seeder_service(seeder) for seeder in SEEDERS}
    for service in SERVICES:
        if service in DERIVED:
            print(f"seed: {service}: {DERIVED[service]}")
        elif service not in seeded:
            print(f"seed: {service}: no demo data yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
