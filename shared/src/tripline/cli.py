"""The operator commands every service ships: ``migrate`` and the dead-letter tools."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nats

from tripline.messaging.dead_letters import (
    DeadLetter,
    discard_dead_letter,
    get_dead_letter,
    list_dead_letters,
    replay_dead_letter,
)
from tripline.migrations import upgrade_to_head
from tripline.settings import MessagingSettings, ServiceSettings, SettingsError


@dataclass(frozen=True)
class ServiceCommand:
    """A service's own operator command: its help line, its arguments, and what it runs (given the settings and the
    parsed arguments; returns the exit status)."""

    help: str
    run: Callable[[ServiceSettings, argparse.Namespace], int]
    options: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def run_service_cli(
    service: str,
    migrations_dir: Path,
    load_settings: Callable[[], ServiceSettings],
    argv: Sequence[str] | None = None,
    commands: Mapping[str, ServiceCommand] | None = None,
) -> int:
    """Parse the command line and run one operator command; returns the exit status."""
    own = dict(commands or {})
    args = _parser(service, own).parse_args(argv)
    try:
        if args.command in own:
            return own[args.command].run(load_settings(), args)
        if args.command == "migrate":
            upgrade_to_head(migrations_dir, load_settings().database_url.get_secret_value())
            print(f"{service}: database at the newest migration")
            return 0
        return asyncio.run(_dead_letters(args))
    except SettingsError as error:
        print(f"{service}: {error}", file=sys.stderr)
        return 2


def _parser(service: str, own: Mapping[str, ServiceCommand]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {service}.entrypoints.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the newest migration")
    for name, command in own.items():
        command.options(commands.add_parser(name, help=command.help))
    letters = commands.add_parser("dead-letters", help="inspect, replay or discard dead-lettered messages")
    actions = letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="print the oldest entries as JSON lines")
    listing.add_argument("--limit", type=int, default=100)
    for action in ("replay", "discard"):
        chosen = actions.add_parser(action, help=f"{action} one entry by its DLQ sequence")
        chosen.add_argument("sequence", type=int)
    return parser


async def _dead_letters(args: argparse.Namespace) -> int:
    client = await nats.connect(MessagingSettings().nats_url)
    js = client.jetstream()
    try:
        if args.action == "list":
            for letter in await list_dead_letters(js, args.limit):
                print(json.dumps(_describe(letter)))
        elif args.action == "replay":
            found = await get_dead_letter(js, args.sequence)
            if found is None:
                print(f"no dead letter with sequence {args.sequence}", file=sys.stderr)
                return 1
            await replay_dead_letter(js, found)
        else:
            await discard_dead_letter(js, args.sequence)
        return 0
    finally:
        await client.drain()


def _describe(letter: DeadLetter) -> dict[str, object]:
    described = dataclasses.asdict(letter)
    described["data"] = letter.data.decode(errors="replace")
    return described
