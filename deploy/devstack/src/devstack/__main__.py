"""``python -m devstack {run,up,down,status,env}``: the local stack (see docs/decisions/0003-local-stack.md)."""

from __future__ import annotations

import argparse
import sys

from devstack.config import StackConfig, StackError
from devstack.postgres import PostgresError
from devstack.readiness import NotReadyError
from devstack.report import print_env, print_status
from devstack.stack import Stack

COMMANDS = {
    "run": "start everything in the foreground; Ctrl-C stops it all",
    "up": "start everything in the background; return once it is ready",
    "down": "stop everything `up` or an interrupted `run` left running",
    "status": "show what runs and on which ports (exit status 1 unless all is ready)",
    "env": "print the processes' environment (stack.env; includes secrets, local use only)",
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the command, turn known failures into a message and status 1."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Tripline's local stack. Configured by STATE_DIR, GATEWAY_PORT, *_DATABASE_URL, "
        "NATS_URL, <SVC>_PORT, SEED and AUTH_JWT_* in the environment.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, help_text in COMMANDS.items():
        commands.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args.command)
    except (StackError, PostgresError, NotReadyError) as error:
        print(f"devstack {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"devstack {args.command}: interrupted; everything it started was stopped", file=sys.stderr)
        return 130


def _dispatch(command: str) -> int:
    config = StackConfig.from_environ()
    if command == "status":
        return print_status(config)
    if command == "env":
        return print_env(config.paths)
    stack = Stack(config)
    return {"run": stack.run, "up": stack.up, "down": stack.down}[command]()


if __name__ == "__main__":
    sys.exit(main())
