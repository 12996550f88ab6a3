"""The stack's env file: KEY=value lines that honcho, a shell (`set -a; . file`) and we all read."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

HEADER = (
    "# Written by `python -m devstack`: the environment of every process of the local stack.\n"
    "# It contains database passwords and the JWT secret; it is for this machine only (mode 0600).\n"
)


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` as shell-quoted KEY=value lines, readable by the owner only."""
    lines = [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before any secret is written; an existing file is tightened as well.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(HEADER + "\n".join(lines) + "\n")


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a file written by write_env_file (comments and blank lines are skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 1 and "=" in words[0]:
            key, _, value = words[0].partition("=")
            values[key] = value
    return values
