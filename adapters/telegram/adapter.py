"""``TelegramAdapter``: the ``gateway.adapter.Adapter`` for the Telegram Bot API.

PTB's ``telegram.Bot`` does the HTTP; palm owns the offset (``poller``), the limits
(``limits`` with the shared ``RateLimiter``) and the error translation (``errors``).
PTB's HTTP goes through ``transport.AiohttpRequest``.
The token is never logged: PTB (and aiohttp, httpx) put it in URLs at DEBUG/INFO level, so a
filter redacts it from their log records while the adapter runs.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import warnings
from collections.abc import Sequence

import telegram.error as tg
from aiohttp import web
from telegram import Bot
from telegram.warnings import PTBUserWarning

from adapters.telegram import limits
from adapters.telegram.commands import set_command_menu
from adapters.telegram.errors import TOKEN_REJECTED, translate
from adapters.telegram.lease import Lease
from adapters.telegram.normalize import BotIdentity
from adapters.telegram.paid import PaidBroadcast
from adapters.telegram.poller import Poller
from adapters.telegram.send import TelegramSender
from adapters.telegram.transport import AiohttpRequest
from adapters.telegram.webhook import WebhookHandler
from gateway import errors as gw
from gateway.adapter import AdapterContext, Route
from gateway.config import GatewayConfig, TelegramConfig
from gateway.metrics import PLATFORM_UP
from gateway.models import (
    ChatKind,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
    UserId,
    split_target_id,
)
from gateway.ops.menu import CommandMenu
from gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# getUpdates goes through do_api_request to get the raw JSON; PTB suggests the typed
# method each time. Only that one suggestion is silenced.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.getChatMember'", category=PTBUserWarning
)

READY_TIMEOUT = 5.0
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""getFile serves bots files of up to 20 MB."""
_LOGGERS_WITH_URLS = (
    "aiohttp.client",
    "httpx",
    "httpcore",
    "telegram.Bot",
    "telegram.request",
    "telegram",
)


class _RedactToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._token in text:
            record.msg = text.replace(self._token, "<token>")
            record.args = ()
        return True


class TelegramAdapter:
    platform = Platform("telegram")

    def __init__(
        self,
        config: TelegramConfig,
        gw_config: GatewayConfig,
        *,
        lease_seconds: float | None = None,
    ) -> None:
        if config.token is None:
            raise gw.ConfigError("token is missing", key="platforms.telegram.token_env")
        self._config = config
        self._gw = gw_config
        self._token = config.token.get_secret_value()
        # The bot id is the token's public part: rate keys are known before start().
        head = self._token.partition(":")[0]
        self._bot_id = int(head) if head.isdigit() else 0
        # Long enough that a whole long poll fits in 3/4 of it (see lease.py, poller.py).
        self._lease_seconds = (
            lease_seconds
            or gw_config.takeover.telegram_lease_seconds
            or max(30.0, (config.poll_timeout + 4) / 0.75 + 1)
        )
        self._redact = _RedactToken(self._token)
        self._bot: Bot | None = None
        self._me: BotIdentity | None = None
        self._ctx: AdapterContext | None = None
        self._sender: TelegramSender | None = None
        self._webhook: WebhookHandler | None = None
        self._paid = PaidBroadcast(config.paid_broadcast)

    def __repr__(self) -> str:
        name = f"@{self._me.username}" if self._me else f"id {self._bot_id}"
        return f"TelegramAdapter(bot={name}, mode={self._config.mode})"

    @property
    def me(self) -> BotIdentity | None:
        return self._me

    # --- life cycle ------------------------------------------------------------

    def _make_bot(self) -> Bot:
        poll = self._config.poll_timeout
        return Bot(
            self._token,
            base_url=self._config.base_url,
            base_file_url=self._config.base_file_url or "https://api.telegram.org/file/bot",
            # Sends run concurrently from many workers: PTB's default pool has 1 connection.
            # aiohttp instead of PTB's httpx transport: a third of the CPU per send.
            request=AiohttpRequest(
                connection_pool_size=max(64, self._gw.outbox.workers * 2),
                connect_timeout=5.0,
                read_timeout=15.0,
                write_timeout=15.0,
                pool_timeout=5.0,
                media_write_timeout=60.0,
            ),
            get_updates_request=AiohttpRequest(
                connection_pool_size=2, read_timeout=poll + 5.0, pool_timeout=5.0
            ),
        )

    async def start(self, ctx: AdapterContext) -> None:
        for name in _LOGGERS_WITH_URLS:
            logging.getLogger(name).addFilter(self._redact)
        self._ctx = ctx
        self._bot = self._make_bot()
        try:
            async with asyncio.timeout(READY_TIMEOUT * 2):
                await self._bot.initialize()  # getMe
        except tg.InvalidToken as exc:
            raise gw.ConfigError(TOKEN_REJECTED) from exc
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc
        except TimeoutError as exc:
            raise gw.NetworkError("telegram: getMe did not answer in time") from exc
        user = self._bot.bot
        self._bot_id = user.id
        self._me = BotIdentity(user.id, user.username or "")
        PLATFORM_UP.labels(platform="telegram").set(1)
        limiter = RateLimiter(ctx.redis, ctx.keys)
        self._sender = TelegramSender(
            self._bot,
            self._bot_id,
            ctx.redis,
            ctx.keys,
            limiter,
            ambiguous_policy=self._config.ambiguous_policy,
            paid=self._paid,
        )
        webhook = self._config.webhook
        if self._config.mode == "webhook" and webhook is not None and webhook.secret:
            self._webhook = WebhookHandler(webhook.secret.get_secret_value(), self._me, ctx.sink)
        log.info("telegram: signed in as @%s (%s mode)", self._me.username, self._config.mode)

    async def run(self) -> None:
        if self._ctx is None or self._bot is None or self._me is None:
            raise RuntimeError("TelegramAdapter.run() before start()")
        if self._config.mode == "webhook":
            await asyncio.Event().wait()  # updates arrive through routes()
            return
        ctx = self._ctx
        lease = Lease(
            ctx.redis,
            ctx.keys("telegram", self._bot_id, "poll-lease"),
            ctx.instance,
            self._lease_seconds,
            same_host_takeover=self._gw.takeover.same_host,
        )
        poller = Poller(
            self._bot,
            self._me,
            ctx.redis,
            ctx.keys("telegram", self._bot_id, "offset"),
            lease,
            ctx.sink,
            poll_timeout=self._config.poll_timeout,
        )
        await poller.run()

    async def aclose(self) -> None:
        if self._bot is not None:
            try:
                await self._bot.shutdown()
            except tg.TelegramError as exc:
                log.debug("telegram: shutdown: %s", type(exc).__name__)
            self._bot = None
        for name in _LOGGERS_WITH_URLS:
            logging.getLogger(name).removeFilter(self._redact)

    async def check_ready(self) -> str | None:
        if self._bot is None:
            return "telegram: not started"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._bot.get_me(read_timeout=READY_TIMEOUT)
        except TimeoutError:
            reason: str | None = "telegram: getMe timed out"
        except tg.TelegramError as exc:
            reason = f"telegram: {translate(exc, is_send=False).message}"
        else:
            reason = None
        PLATFORM_UP.labels(platform="telegram").set(0 if reason else 1)
        return reason

    async def set_command_menu(self, menu: CommandMenu) -> bool:
        """The bot's ``/`` menu (``gateway.ops.menu``), registered when it changed."""
        if self._bot is None or self._ctx is None:
            raise RuntimeError("TelegramAdapter.set_command_menu() before start()")
        key = self._ctx.keys("telegram", self._bot_id, "command-menu")
        return await set_command_menu(self._bot, self._ctx.redis, key, menu)

    def routes(self) -> Sequence[Route]:
        webhook = self._config.webhook
        if self._config.mode != "webhook" or webhook is None:
            return ()
        return (Route("POST", webhook.path, self._handle_webhook),)

    async def _handle_webhook(self, request: web.Request) -> web.StreamResponse:
        if self._webhook is None:
            return web.json_response({"ok": False, "error": "not started"}, status=503)
        return await self._webhook(request)

    async def leave(self, target: TargetId) -> None:
        """An admin rejected the chat: ``leaveChat`` (see ``gateway.admission.leave``)."""
        await self._need_sender().leave(target)

    # --- sending ---------------------------------------------------------------

    def rate_rules(
        self, target: TargetId, kind: ChatKind, priority: Priority = Priority.NORMAL
    ) -> Sequence[RateRule]:
        _, chat = split_target_id(target)
        return limits.rules_for(
            self._bot_id,
            chat,
            kind,
            paid=self._paid.applies(priority),
            paid_on=self._config.paid_broadcast != "off",
        )

    def _need_sender(self) -> TelegramSender:
        if self._sender is None:
            raise RuntimeError("TelegramAdapter used before start()")
        return self._sender

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        return await self._need_sender().send(msg)

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        await self._need_sender().edit(target, message_ids, msg)

    async def recall(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], sent_at: float
    ) -> None:
        await self._need_sender().recall(target, message_ids, sent_at)

    # --- staff rooms (gateway.staffroom.acting.StaffRoomSupport) ----------------

    async def is_member(self, target: TargetId, user: UserId) -> bool:
        """``getChatMember``: a member, an admin or the creator (or restricted but in).

        Only ``status`` (and ``is_member``) is read, from the raw JSON: PTB's typed
        ``ChatMember`` breaks whenever Telegram adds a required field to a variant.
        """
        if self._bot is None:
            raise RuntimeError("TelegramAdapter used before start()")
        _, chat = split_target_id(target)
        try:
            args = {"chat_id": int(chat), "user_id": int(user)}
            member = await self._bot.do_api_request("getChatMember", api_kwargs=args)
        except (ValueError, tg.BadRequest):
            return False  # not a number, or "user not found": not a member
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc
        status = member.get("status") if isinstance(member, dict) else None
        if status in ("member", "administrator", "creator"):
            return True
        return status == "restricted" and member.get("is_member") is True

    async def fetch_attachment(self, ref: str) -> bytes:
        """``getFile`` + download: the bytes behind a ``file_id`` (bots: up to 20 MB)."""
        data, _ = await self.fetch_file(ref, BOT_DOWNLOAD_LIMIT)
        return data

    async def member_count(self, target: TargetId) -> int:
        """``getChatMemberCount``, the bot itself not counted."""
        if self._bot is None:
            raise RuntimeError("TelegramAdapter used before start()")
        _, chat = split_target_id(target)
        try:
            count = await self._bot.get_chat_member_count(int(chat))
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc
        return max(0, int(count) - 1)

    async def answer_button(self, query_id: str, text: str) -> None:
        if self._bot is None:
            raise RuntimeError("TelegramAdapter used before start()")
        try:
            await self._bot.answer_callback_query(query_id, text=text[:200])
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc

    async def fetch_file(self, ref: str, max_bytes: int) -> tuple[bytes, str]:
        """A resident's file (a photo's ``file_id``) and its MIME type (the console shows
        it; a staff room gets it forwarded)."""
        if self._bot is None:
            raise RuntimeError("TelegramAdapter used before start()")
        try:
            f = await self._bot.get_file(ref)
            if f.file_size and f.file_size > max_bytes:
                raise gw.NotPossible(f"the file is larger than {max_bytes} bytes")
            data = bytes(await f.download_as_bytearray())
        except tg.TelegramError as exc:
            raise translate(exc, is_send=False) from exc
        mime = mimetypes.guess_type(f.file_path or "")[0] or "application/octet-stream"
        return data, mime
