"""What every ``palm`` subcommand gets: the config, a Redis runtime and output helpers.

Subcommands are declared with ``add_command`` and implemented as
``async def handler(args, cli) -> int`` returning the exit code. Errors are raised as
``gateway.errors`` and turned into one line on stderr and an exit code by ``main``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from gateway.config import ALL_PLATFORMS, GatewayConfig
from gateway.config_load import load_config
from gateway.runtime import Runtime, open_runtime
from gateway.safety.inert import json_inert, visible

# Exit codes, as documented in the README.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input, not found, conflict, permanent failure
EXIT_USAGE = 2  # bad arguments or bad config
EXIT_FAILED_DELIVERIES = 3  # `palm announce`: some deliveries failed
EXIT_UNAVAILABLE = 4  # Redis (or a platform) does not answer

Handler = Callable[[argparse.Namespace, "CliContext"], Awaitable[int]]
SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass
class CliContext:
    config_path: str | None
    out: Console = field(default_factory=lambda: Console(highlight=False))
    _config: GatewayConfig | None = None

    @property
    def config(self) -> GatewayConfig:
        """The config without platform secrets: enough for commands that only use Redis."""
        if self._config is None:
            self._config = load_config(self.config_path, secrets=frozenset())
        return self._config

    def config_with_secrets(self, platforms: frozenset[str] = ALL_PLATFORMS) -> GatewayConfig:
        """The config with ``platforms``' secrets resolved (a missing one is a ConfigError).

        For ``palm run`` and the commands that talk to a platform themselves.
        """
        self._config = load_config(self.config_path, secrets=platforms)
        return self._config

    @asynccontextmanager
    async def runtime(self) -> AsyncIterator[Runtime]:
        """Redis for this command: ``redis.url``, or the embedded server of ``data_dir``."""
        async with open_runtime(self.config) as rt:
            yield rt

    def print_json(self, data: Any) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write(json_inert(text) + "\n")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message: str) -> Any:
        # The message quotes the bad argument, which may hold ESC or bad UTF-8.
        message = visible(message, one_line=True)
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-c", "--config", dest="config_sub", metavar="FILE", default=argparse.SUPPRESS,
        help="config file (default: $PALM_CONFIG, then ./palm.yaml)",
    )  # fmt: skip
    return parent


def add_command(
    sub: Any, name: str, *, help: str, handler: Handler | None = None, description: str = ""
) -> argparse.ArgumentParser:
    """Declare ``palm ... NAME``; ``handler`` runs it (omit it for a group of commands)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description or help, parents=[common_options()]
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def add_group(sub: Any, name: str, *, help: str) -> Any:
    """``palm NAME SUBCOMMAND``: returns the sub-subparsers to add commands to."""
    parser = add_command(sub, name, help=help)
    return parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
