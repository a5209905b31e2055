"""palm run [-c FILE] [--role all|ingest|work]"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from gateway.app import Role, run_gateway
from gateway.cli.context import CliContext, add_command
from gateway.logs import setup_logging

log = logging.getLogger("palm.app")


async def _run(args: argparse.Namespace, cli: CliContext) -> int:
    config = cli.config_with_secrets()  # validated before anything starts
    setup_logging(args.log_level or config.log.level, args.log_format or config.log.format)
    log.info("starting", extra={"config": str(config.source), "data_dir": str(config.data_dir)})
    try:
        return await run_gateway(config, role=Role(args.role))
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
    p.add_argument(
        "--role", choices=[r.value for r in Role], default=Role.ALL.value,
        help="all (default); ingest: only platform webhooks and health; "
        "work: everything but the webhooks. Run both on one Redis to keep a flood of "
        "replies from waiting behind the funnel and the outbox",
    )  # fmt: skip
