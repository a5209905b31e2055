"""The one place where the core meets the adapter packages.

Imports are lazy, so a config without ``platforms.matrix`` never imports matrix-nio.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway.adapter import Adapter
from gateway.config import GatewayConfig

if TYPE_CHECKING:
    from gateway.ops.doctor import Finding
    from gateway.runtime import Runtime


def build_adapters(config: GatewayConfig) -> list[Adapter]:
    """One adapter per configured platform, constructed without I/O."""
    adapters: list[Adapter] = []
    if config.platforms.telegram is not None:
        from adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(config.platforms.telegram, config))
    if config.platforms.matrix is not None:
        from adapters.matrix import MatrixAdapter

        adapters.append(MatrixAdapter(config.platforms.matrix, config))
    return adapters


def cli_registrars() -> list[Callable[[Any], None]]:
    """Adapter functions that add ``palm`` subcommands (``add_commands(subparsers)``)."""
    names = ["adapters.telegram.cli"]
    modules = [importlib.import_module(n) for n in names if importlib.util.find_spec(n)]
    return [module.add_commands for module in modules]


def doctor_checks(config: GatewayConfig) -> list[Callable[[Runtime], Awaitable[list[Finding]]]]:
    """``palm doctor``'s checks of each configured platform."""
    checks: list[Callable[[Runtime], Awaitable[list[Finding]]]] = []
    if config.platforms.telegram is not None:
        from adapters.telegram.doctor import doctor as telegram_doctor

        checks.append(telegram_doctor)
    if config.platforms.matrix is not None:
        from adapters.matrix.doctor import doctor as matrix_doctor

        checks.append(matrix_doctor)
    return checks
