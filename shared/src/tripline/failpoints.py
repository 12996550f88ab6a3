"""Named crash points for fault-injection tests, inert unless ``TRIPLINE_FAILPOINTS`` names them.

``TRIPLINE_FAILPOINTS=relay.after_publish`` makes the process kill itself with SIGKILL when it reaches
``failpoint("relay.after_publish")``: the harshest crash, with no cleanup, exactly where a test wants it.
Several names are separated by commas. Production never sets the variable, so a failpoint costs one set lookup.
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(name.strip() for name in os.environ.get("TRIPLINE_FAILPOINTS", "").split(",") if name.strip())


def failpoint(name: str) -> None:
    """Crash here (SIGKILL) if this failpoint is armed."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
