"""``tripline-token``: print a development bearer token (``make token SUB= ROLE=``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from tripline.auth.tokens import Role, issue_dev_token
from tripline.settings import AuthSettings


def main(argv: Sequence[str] | None = None) -> int:
    """Print an HS256 token for ``--sub`` and ``--role``, signed with ``AUTH_JWT_SECRET``."""
    parser = argparse.ArgumentParser(
        prog="tripline-token",
        description="Print a development JWT (reads AUTH_JWT_SECRET, AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE).",
    )
    parser.add_argument("--sub", required=True, help="account id, at most 64 characters")
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    args = parser.parse_args(argv)
    try:
        token = issue_dev_token(args.sub, args.role, args.ttl, AuthSettings())
    except ValidationError as error:
        # Only names and reasons: the offending values could be secrets.
        for problem in error.errors(include_input=False):
            name = "AUTH_JWT_" + "_".join(str(step) for step in problem["loc"]).upper()
            print(f"tripline-token: {name}: {problem['msg']}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as error:
        print(f"tripline-token: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
