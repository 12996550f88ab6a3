"""``python -m search.entrypoints.cli``: migrate, and inspect or replay dead letters."""

import sys

from search import SERVICE
from search.config import MIGRATIONS_DIR, settings_from_env
from tripline.cli import run_service_cli

if __name__ == "__main__":
    sys.exit(run_service_cli(SERVICE, MIGRATIONS_DIR, settings_from_env))
