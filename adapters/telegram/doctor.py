"""``palm doctor`` for Telegram: the token (getMe), the webhook, privacy mode."""

from __future__ import annotations

import telegram.error as tg
from telegram import Bot, WebhookInfo

from adapters.telegram.errors import translate
from gateway.config import TelegramConfig
from gateway.ops.doctor import Finding, fail, ok, warn
from gateway.runtime import Runtime

PRIVACY_FIX = (
    "in Telegram, send /setprivacy to @BotFather, pick the bot, choose Disable, then remove "
    "the bot from each group and add it again (palm itself keeps ignoring group chatter)"
)


def privacy_finding(username: str, can_read_all: bool) -> Finding:
    if can_read_all:
        return ok("telegram privacy", f"@{username} sees every group message; palm filters them")
    return warn(
        "telegram privacy",
        f"privacy mode is on for @{username}: in groups Telegram only passes on commands in "
        "Latin letters, replies to the bot and mentions, so `/报修` (and replies to "
        "announcements from other bots' users) never reach palm",
        PRIVACY_FIX,
    )


def webhook_findings(config: TelegramConfig, info: WebhookInfo) -> list[Finding]:
    fix_set = "palm telegram set-webhook https://YOUR.HOST" + (
        config.webhook.path if config.webhook else "/telegram/webhook"
    )
    if config.mode == "polling":
        if info.url:
            return [fail(
                "telegram webhook", f"a webhook is set ({info.url}) but palm polls: getUpdates "
                "answers 409 and nothing arrives",
                "remove it (curl https://api.telegram.org/bot$TOKEN/deleteWebhook) or set "
                "mode: webhook",
            )]  # fmt: skip
        return [ok("telegram webhook", "none set (polling mode)")]
    path = config.webhook.path if config.webhook else "/telegram/webhook"
    if not info.url:
        return [fail("telegram webhook", "mode: webhook but no webhook is set", fix_set)]
    if not info.url.split("?", 1)[0].endswith(path):
        return [fail(
            "telegram webhook", f"set to {info.url}, which is not palm's path {path}", fix_set
        )]  # fmt: skip
    found = [ok("telegram webhook", f"set to {info.url}")]
    if info.last_error_message:
        found.append(warn(
            "telegram webhook", f"Telegram's last delivery failed: {info.last_error_message} "
            f"({info.pending_update_count} updates waiting)",
            "check that the URL reaches palm's http.listen through your proxy",
        ))  # fmt: skip
    return found


async def doctor(rt: Runtime) -> list[Finding]:
    config = rt.config.platforms.telegram
    if config is None:
        return []
    if config.token is None:
        return [fail("telegram", "no token", "set the variable named by platforms.telegram")]
    bot = Bot(config.token.get_secret_value(), base_url=config.base_url)
    try:
        async with bot:  # initialize() calls getMe
            me = bot.bot
            info = await bot.get_webhook_info()
    except tg.InvalidToken:
        return [fail("telegram", "getMe: the token was rejected",
                     "copy the token from @BotFather into the token_env variable")]  # fmt: skip
    except tg.TelegramError as exc:
        reason = translate(exc, is_send=False).message
        return [fail("telegram", f"getMe failed: {reason}", "check base_url and the network")]
    return [
        ok("telegram", f"signed in as @{me.username} (id {me.id})"),
        *webhook_findings(config, info),
        privacy_finding(me.username or str(me.id), bool(me.can_read_all_group_messages)),
    ]
