"""palm run [-c FILE]"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from gateway.app import run_gateway
from gateway.cli.context import CliContext, add_command
from gateway.logs import setup_logging

log = logging.getLogger("palm.app")


async def _run(args: argparse.Namespace, cli: CliContext) -> int:
    config = cli.config_with_secrets()  # validated before anything starts
    setup_logging(args.log_level or config.log.level, args.log_format or config.log.format)
    log.info("starting", extra={"config": str(config.source), "data_dir": str(config.data_dir)})
    try:
        return await run_gateway(config)
    except ExceptionGroup as group:
        # A component crashed (its context is already logged): palm exits 1, not hangs.
        for exc in group.exceptions:
            log.error("palm stopped by an error: %s: %s", type(exc).__name__, exc)
        return 1


def register(sub: Any) -> None:
    p = add_command(
        sub, "run", handler=_run,
        help="run the gateway: listeners, delivery workers, scheduler and HTTP API",
    )  # fmt: skip
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=["text", "json"])
