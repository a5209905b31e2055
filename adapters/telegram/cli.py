"""``palm telegram set-webhook URL``: register palm's webhook with Telegram."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import telegram.error as tg
from telegram import Bot

from adapters.telegram.errors import TOKEN_REJECTED, translate
from adapters.telegram.poller import ALLOWED_UPDATES
from gateway import errors as gw
from gateway.cli.context import add_command, add_group
from gateway.config import TelegramConfig

if TYPE_CHECKING:
    from gateway.cli.context import CliContext


async def set_webhook(config: TelegramConfig, url: str) -> str:
    """``setWebhook`` with the configured secret and the updates palm reads.

    Returns a one-line confirmation. Raises ``ConfigError`` for a bad token or a
    missing ``webhook`` section, ``InputError`` for a non-https URL.
    """
    if config.webhook is None or config.webhook.secret is None:
        raise gw.ConfigError(
            "needs a webhook: {secret_env: ...} section", key="platforms.telegram.webhook"
        )
    if not url.startswith("https://"):
        raise gw.InputError(f"the webhook URL must start with https:// (got {url!r})")
    if config.token is None:
        raise gw.ConfigError("token is missing", key="platforms.telegram.token_env")
    bot = Bot(config.token.get_secret_value(), base_url=config.base_url)
    try:
        async with bot:
            await bot.set_webhook(
                url,
                secret_token=config.webhook.secret.get_secret_value(),
                allowed_updates=list(ALLOWED_UPDATES),
            )
    except tg.InvalidToken as exc:
        raise gw.ConfigError(TOKEN_REJECTED) from exc
    except tg.TelegramError as exc:
        raise translate(exc, is_send=False) from exc
    return f"telegram webhook set to {url} (updates: {', '.join(ALLOWED_UPDATES)})"


async def _set_webhook_cmd(args: argparse.Namespace, cli: CliContext) -> int:
    config = cli.config_with_secrets(frozenset({"telegram"})).platforms.telegram
    if config is None:
        raise gw.ConfigError("not configured", key="platforms.telegram")
    print(await set_webhook(config, args.url))
    return 0


def add_commands(subparsers: Any) -> None:
    """Register ``telegram set-webhook URL`` on the ``palm`` argument parser."""
    group = add_group(subparsers, "telegram", help="Telegram bot administration")
    hook = add_command(
        group, "set-webhook", handler=_set_webhook_cmd,
        help="register palm's webhook URL with Telegram (mode: webhook)",
    )  # fmt: skip
    hook.add_argument("url", help="the public https:// URL of palm's webhook path")
