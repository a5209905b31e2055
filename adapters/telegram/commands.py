"""The command menu on Telegram: ``setMyCommands`` per scope and language."""

from __future__ import annotations

import telegram.error as tg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from adapters.telegram.errors import translate
from gateway.errors import StoreUnavailable
from gateway.ops.menu import CommandMenu


async def set_command_menu(bot: Bot, redis: Redis, key: str, menu: CommandMenu) -> bool:
    """Register ``menu`` unless ``key`` holds its digest already; True if it called the API."""
    digest = menu.digest()
    try:
        if await redis.get(key) == digest:
            return False
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"telegram command menu: {exc}") from exc
    for entry in menu.entries:
        scope = (
            BotCommandScopeAllPrivateChats()
            if entry.scope == "private"
            else BotCommandScopeAllGroupChats()
        )
        try:
            await bot.set_my_commands(
                [BotCommand(name, description) for name, description in entry.commands],
                scope=scope,
                language_code=entry.language or None,
            )
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc
    try:
        await redis.set(key, digest)
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"telegram command menu: {exc}") from exc
    return True
