"""``python -m tripline_ops.audit [--quiet]``: audit the platform named by ``<SERVICE>_DATABASE_URL``.

``--quiet`` says the platform is known to be quiet (no step under way, every message handled, as after a drill
or a maintenance window): a booking that ended is then judged as settled at once, with no step timeout's grace
for a release or refund still on its way.

Exit status 0 when every invariant holds, 1 when one does not (the report names each violation), 2 when the audit
could not judge: a database URL missing, a database unreachable or unreadable, a rule variable malformed.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from tripline_ops.audit.checks import audit_platform
from tripline_ops.audit.snapshot import SERVICES, DatabaseUnreadable
from tripline_ops.audit.standing import AuditRules

PASSED, VIOLATED, UNREADABLE = 0, 1, 2


def main(env: Mapping[str, str], argv: Sequence[str] | None = None) -> int:
    """Print the report; the exit status says whether the invariants hold, or why they could not be checked."""
    options = _parser().parse_args(argv)
    variables = {service: f"{service.upper()}_DATABASE_URL" for service in SERVICES}
    missing = [name for name in variables.values() if not env.get(name)]
    if missing:
        return _cannot_audit(f"{', '.join(missing)} not set: the audit reads each service's database (make audit)")
    try:
        rules = AuditRules.from_env(env)
    except ValueError as error:
        return _cannot_audit(str(error))
    if options.quiet:
        rules = replace(rules, step_timeout=timedelta(0))
    try:
        report = audit_platform({service: env[name] for service, name in variables.items()}, rules)
    except DatabaseUnreadable as error:
        return _cannot_audit(str(error))
    except Exception:  # noqa: BLE001 - an audit that crashed proved nothing: it must not exit 1, as for a violation
        traceback.print_exc()
        return _cannot_audit("the audit could not finish (the traceback above says why)")
    print("\n".join(report.lines()))
    return PASSED if report.passed else VIOLATED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tripline_ops.audit", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="the platform is quiet: judge every ended booking as settled, with no grace for compensations",
    )
    return parser


def _cannot_audit(reason: str) -> int:
    print(f"audit: {reason}", file=sys.stderr)
    return UNREADABLE


if __name__ == "__main__":
    sys.exit(main(os.environ))
