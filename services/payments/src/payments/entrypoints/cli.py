"""``python -m payments.entrypoints.cli``: migrate, and inspect or replay dead letters."""

import sys

from payments import SERVICE
from payments.config import MIGRATIONS_DIR, settings_from_env
from tripline.cli import run_service_cli

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env))
