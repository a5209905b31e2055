"""``palm``: the entry point. Parses arguments, runs one subcommand, maps errors to exit codes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from types import ModuleType

from redis.exceptions import RedisError

from adapters.registry import cli_registrars
from gateway import __version__
from gateway.cli import run as run_cmd
from gateway.cli import tokens as tokens_cmd
from gateway.cli.context import (
    EXIT_ERROR,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliContext,
    OneLineParser,
)
from gateway.errors import ConfigError, GatewayError, RetryableError
from gateway.safety.argv import undecodable
from gateway.safety.inert import visible


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="palm",
        description="Palm Gateway: announcements out to every chat, residents' messages "
        "into one staff queue.",
    )
    parser.add_argument("--version", action="version", version=f"palm {__version__}")
    parser.add_argument(
        "-c", "--config", metavar="FILE",
        help="config file (default: $PALM_CONFIG, then ./palm.yaml)",
    )  # fmt: skip
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.register(sub)
    for add_commands in cli_registrars():
        add_commands(sub)
    return parser


def _command_modules() -> list[ModuleType]:
    """Every module that adds subcommands; each has ``register(subparsers)``."""
    from gateway.cli import announce as announce_cmd
    from gateway.cli import announcements as announcements_cmd
    from gateway.cli import polls as polls_cmd
    from gateway.cli import queue as queue_cmd
    from gateway.cli import residents as residents_cmd
    from gateway.cli import rules as rules_cmd
    from gateway.cli import targets as targets_cmd
    from gateway.cli import tickets as tickets_cmd
    from gateway.cli import users as users_cmd
    from gateway.ops import cli as ops_cmd

    return [
        run_cmd, tokens_cmd, tickets_cmd, queue_cmd, rules_cmd,
        announce_cmd, announcements_cmd, targets_cmd, users_cmd, residents_cmd, ops_cmd,
        polls_cmd,
    ]  # fmt: skip


def _fail(message: str, code: int, more: Sequence[str] = ()) -> int:
    # Messages quote what the user or a resident wrote: show its controls, on one line
    # each (``more``: a config's further problems, one per line).
    sys.stderr.write(f"palm: {visible(message, one_line=True)}\n")
    sys.stderr.writelines(f"  {visible(line, one_line=True)}\n" for line in more)
    return code


async def _dispatch(args: argparse.Namespace) -> int:
    cli = CliContext(config_path=getattr(args, "config_sub", None) or args.config)
    code: int = await args.handler(args, cli)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    bad = undecodable(sys.argv[1:] if argv is None else argv)
    if bad is not None:
        return _fail(bad, EXIT_USAGE)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_dispatch(args))
    except ConfigError as exc:
        return _fail(exc.first, EXIT_USAGE, exc.more)
    except RetryableError as exc:
        return _fail(exc.message, EXIT_UNAVAILABLE)
    except GatewayError as exc:
        return _fail(exc.message, EXIT_ERROR)
    except (RedisError, ConnectionError) as exc:
        return _fail(f"redis does not answer: {exc}", EXIT_UNAVAILABLE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    raise SystemExit(main())
