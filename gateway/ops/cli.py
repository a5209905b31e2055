"""``palm doctor``: check the config, Redis, the platforms, the clock and the disk."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.cli.context import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliContext, add_command
from gateway.config import GatewayConfig
from gateway.errors import ConfigError, GatewayError
from gateway.ops.doctor import (
    Finding,
    Level,
    check_clock,
    check_disk,
    check_redis,
    check_staff_rooms,
    fail,
    ok,
)
from gateway.runtime import open_runtime


def _config(cli: CliContext) -> tuple[GatewayConfig | None, Finding]:
    try:
        config = cli.config_with_secrets()
    except ConfigError as exc:
        finding = fail("config", exc.message, "see config/palm.example.yaml")
        try:  # the rest can still be checked without the platforms' secrets
            return cli.config, finding
        except ConfigError:
            return None, finding
    return config, ok("config", f"{config.source} is valid")


async def findings(cli: CliContext) -> list[Finding]:
    from adapters.registry import doctor_checks

    config, first = _config(cli)
    found = [first]
    if config is None:
        return found
    try:
        async with open_runtime(config) as rt:
            redis = await check_redis(rt)
            found += redis
            if all(f.level != Level.FAIL for f in redis):
                found.append(await check_clock(rt))
                found.append(await check_staff_rooms(rt))
            for check in doctor_checks(config):
                found += await check(rt)
    except GatewayError as exc:  # Redis does not answer at all
        found.append(fail("redis", exc.message, "check redis.url and the server"))
    found.append(check_disk(config.data_dir))
    return found


async def _doctor(args: argparse.Namespace, cli: CliContext) -> int:
    found = await findings(cli)
    if args.json:
        cli.print_json([f.to_json() for f in found])
    else:
        for f in found:
            sys.stdout.write(f.line() + "\n")
    if found[0].level == Level.FAIL and len(found) == 1:
        return EXIT_USAGE
    return EXIT_ERROR if any(f.level == Level.FAIL for f in found) else EXIT_OK


def register(sub: Any) -> None:
    p = add_command(
        sub, "doctor", handler=_doctor,
        help="check the config, Redis, each platform, the clock and the disk: ok or the fix",
    )  # fmt: skip
    p.add_argument("--json", action="store_true")
