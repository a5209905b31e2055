"""Sending, editing and recalling through ``telegram.Bot``; errors leave as gateway.errors.

One ``OutboundMessage`` may become several Telegram messages ("steps",
``adapters.telegram.steps``). The core takes one rate permit per ``send``; every further
step here takes its own permit from the same shared limiter, counted the way the core
counts a send (from its answer), so a long announcement never breaks "1 per second".

A multi-step send records each finished step in Redis under its idempotency key and
chat, so a retry after a failure in step 3 does not repeat steps 1 and 2.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import telegram.error as tg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.warnings import PTBUserWarning

from adapters.telegram import limits
from adapters.telegram.errors import translate
from adapters.telegram.media import as_photo, check_sizes
from adapters.telegram.paid import PaidBroadcast, is_refusal
from adapters.telegram.steps import Step, keyboard, plan
from gateway import errors as gw
from gateway.keys import Keys
from gateway.models import (
    ChatKind,
    OutboundMessage,
    PlatformMessageId,
    PollSpec,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
    split_target_id,
)
from gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# Texts go through do_api_request (see TelegramSender._send_step); PTB suggests the typed
# method each time. Only that one suggestion is silenced.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning)

DELETE_WINDOW_SECONDS = 48 * 3600
STEP_RECORD_TTL = 7 * 24 * 3600
FALLBACK = PlatformMessageId("poll:fallback")
"""Marks a poll sent as numbered text (the chat refused a native one)."""


def chat_of(target: TargetId) -> tuple[str, int | str]:
    platform, chat = split_target_id(target)
    if platform != "telegram":
        raise gw.Rejected(f"{target} is not a Telegram target")
    try:
        return chat, int(chat)
    except ValueError:
        return chat, chat  # a public @channel name


def _message_id(raw: Any) -> int:
    """``message_id`` of a raw ``Message`` result; anything else is a protocol error."""
    mid = raw.get("message_id") if isinstance(raw, dict) else None
    if not isinstance(mid, int):
        raise gw.Rejected("telegram: sendMessage answered without a message_id")
    return mid


class TelegramSender:
    def __init__(
        self,
        bot: Bot,
        bot_id: int,
        redis: Redis,
        keys: Keys,
        limiter: RateLimiter,
        *,
        ambiguous_policy: str,
        paid: PaidBroadcast | None = None,
    ) -> None:
        self._bot = bot
        self._bot_id = bot_id
        self._redis = redis
        self._keys = keys
        self._limiter = limiter
        self._policy = ambiguous_policy
        self._floods = limits.FloodTracker(bot_id)
        self._paid = paid or PaidBroadcast("off")

    async def _call(self, chat: str, fn: Callable[[], Awaitable[Any]], *, is_send: bool) -> Any:
        """Run one Bot API call, translating every error exactly once."""
        try:
            return await fn()
        except tg.RetryAfter as exc:
            scope = self._floods.scope_for(chat)
            err = translate(exc, is_send=is_send, scope=scope)
            if isinstance(err, gw.RateLimited):
                await self._limiter.pause(scope, err.retry_after or 1.0)
            raise err from exc
        except tg.TelegramError as exc:
            err = translate(exc, is_send=is_send)
            if isinstance(err, gw.AmbiguousSend) and self._policy == "fail":
                raise gw.Rejected(f"{err.message}; not resent (ambiguous_policy: fail)") from exc
            raise err from exc

    async def _permit(self, target: TargetId, chat: str, first: bool, paid: bool = False) -> None:
        if not first:
            await self._limiter.acquire(self._rules(chat, paid))

    async def _sent_step(
        self,
        chat: str,
        call: Callable[[], Awaitable[int]],
        own: bool,
        paid: bool,
        core: str | None = None,
    ) -> int:
        """One send step. The first rides on the core's permit, counted from this step's
        answer when ``core`` names it (a step follows: it need not wait for the whole
        message to be counted); a further one (``own``) takes its own and is counted as
        the core counts a send: stamped just before it leaves and, unless paced, from its
        answer (``gateway.ratelimit``)."""
        if not own and core is None:
            return int(await self._call(chat, call, is_send=True))  # the common case
        rules = self._rules(chat, paid)
        counted = core
        if own:
            permit = secrets.token_hex(8)
            until_sent = not any(r.pace for r in rules)
            await self._limiter.acquire(rules, member=permit)
            await self._limiter.stamp(rules, permit, until_sent=until_sent)
            counted = permit if until_sent else None
        try:
            return int(await self._call(chat, call, is_send=True))
        finally:
            if counted is not None:
                # Without Redis it stays counted in flight a while: slower, never over.
                with contextlib.suppress(gw.StoreUnavailable):
                    await self._limiter.sent(rules, counted)

    def _rules(self, chat: str, paid: bool) -> tuple[RateRule, ...]:
        kind = ChatKind.GROUP if chat.startswith("-") else ChatKind.DIRECT
        on = self._paid.wanted(Priority.URGENT)
        return limits.rules_for(self._bot_id, chat, kind, paid=paid, paid_on=on)

    # --- send ------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        if msg.poll is not None:
            return await self._send_poll(msg, msg.poll)
        if msg.stop_poll and msg.reply_to is not None:
            await self._stop_poll(msg.target, msg.reply_to)
            return await self._send_text(msg, first=False)  # the result: its own permit
        return await self._send_text(msg)

    async def _send_poll(self, msg: OutboundMessage, poll: PollSpec) -> SendReceipt:
        """A native, non-anonymous poll (only those report ``poll_answer``s). Its
        receipt is ``(message_id, "poll:<poll id>")``: votes name the poll id. A chat
        that refuses it (a channel takes no non-anonymous poll) gets ``text``."""
        chat, chat_id = chat_of(msg.target)

        async def call() -> Message:
            return await self._bot.send_poll(
                chat_id,
                poll.question,
                list(poll.options),
                is_anonymous=False,
                allows_multiple_answers=poll.multiple,
            )

        try:
            sent: Message = await self._call(chat, call, is_send=True)
        except (gw.Rejected, gw.TargetGone) as err:
            # "not enough rights to send polls" reads as TargetGone; if the bot is really
            # gone, the text below fails the same way and the target goes inactive.
            log.info("telegram: native poll refused in %s (%s); numbered text", chat, err)
            receipt = await self._send_text(msg, first=False)
            return SendReceipt(msg.target, (*receipt.message_ids, FALLBACK), receipt.sent_at)
        ref = f"poll:{sent.poll.id}" if sent.poll is not None else FALLBACK
        ids = (PlatformMessageId(str(sent.message_id)), PlatformMessageId(ref))
        return SendReceipt(msg.target, ids, time.time())

    async def _stop_poll(self, target: TargetId, mid: PlatformMessageId) -> None:
        chat, chat_id = chat_of(target)
        try:
            await self._call(chat, partial(self._bot.stop_poll, chat_id, int(mid)), is_send=False)
        except gw.PermanentError as err:
            # Already stopped (a retry), or the numbered fallback: nothing to stop.
            log.info("telegram: stopPoll in %s: %s", chat, err.message)

    async def _send_text(self, msg: OutboundMessage, *, first: bool = True) -> SendReceipt:
        chat, chat_id = chat_of(msg.target)
        check_sizes(msg)
        steps = plan(msg)
        record = self._keys("telegram", "steps", msg.idempotency_key, chat)
        done = await self._done_steps(record) if len(steps) > 1 else {}
        ids: list[PlatformMessageId] = []
        # Decided once, as the core's permit for the first step was (rate_rules).
        paid = self._paid.applies(msg.priority)
        if not paid and self._paid.just_fell_back(msg.priority):
            # The first step's permit may be a paid one, granted before the fall-back:
            # take a free one too, so the 30/s holds across the switch (a double count
            # for at most a couple of seconds).
            await self._limiter.acquire(self._rules(chat, False))
        for n, step in enumerate(steps):
            if n in done:
                ids.append(done[n])
                continue
            own, first = not first, False
            reply = msg.reply_to if n == 0 else (ids[0] if ids else None)
            markup = keyboard(msg) if n == len(steps) - 1 else None
            call = partial(self._send_step, chat_id, step, reply, markup)
            core = msg.permit if n < len(steps) - 1 else None  # the last: the core counts it
            try:
                sent = await self._sent_step(chat, partial(call, paid), own, paid, core)
            except gw.Rejected as err:
                if not (paid and is_refusal(err.message)):
                    raise
                # The bot cannot pay: the same step at once without the flag, with a
                # permit of the free rate (the paid one did not count in the 30/s).
                self._paid.refused(err.message)
                paid = False
                sent = await self._sent_step(chat, partial(call, paid), True, paid)
            ids.append(PlatformMessageId(str(sent)))
            if len(steps) > 1:
                await self._record_step(record, n, ids[-1])
        return SendReceipt(msg.target, tuple(ids), time.time())

    async def _send_step(
        self,
        chat_id: int | str,
        step: Step,
        reply_to: PlatformMessageId | None,
        markup: InlineKeyboardMarkup | None = None,
        paid: bool = False,
    ) -> int:
        """The new message's id.

        A text goes through ``do_api_request`` without a return type: PTB still does the
        HTTP and raises its errors (``translate`` maps them), but does not build a
        ``Message`` (with its ``Chat``, ``User`` and entities) that only its
        ``message_id`` would be read from: a broadcast sends many texts, and that build
        was a fixed CPU cost per delivery (bench/README.md)."""
        reply = (
            ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None
        )
        a = step.attachment
        # None, not False: a free send's request stays as it was (no extra field).
        pay = True if paid else None
        if a is None:
            raw = await self._bot.do_api_request(
                "sendMessage",
                api_kwargs={
                    "chat_id": chat_id,
                    "text": step.html or "\u2063",
                    "parse_mode": ParseMode.HTML,
                    "reply_parameters": reply,
                    "reply_markup": markup,
                    "allow_paid_broadcast": pay,
                },
            )
            return _message_id(raw)
        upload = InputFile(a.data, filename=a.filename)
        # Photos over 10 MB go as documents (adapters.telegram.media); the rest is alike.
        method = self._bot.send_photo if as_photo(a) else self._bot.send_document
        sent: Message = await method(
            chat_id,
            upload,
            caption=step.html,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply,
            reply_markup=markup,
            allow_paid_broadcast=pay,
        )
        return sent.message_id

    async def _done_steps(self, record: str) -> dict[int, PlatformMessageId]:
        try:
            raw = await self._redis.hgetall(record)
        except (RedisError, OSError) as exc:
            raise gw.StoreUnavailable(f"telegram send record: {exc}") from exc
        return {int(k): PlatformMessageId(str(v)) for k, v in raw.items()}

    async def _record_step(self, record: str, n: int, mid: PlatformMessageId) -> None:
        try:
            await self._redis.hset(record, str(n), mid)
            await self._redis.expire(record, STEP_RECORD_TTL)
        except (RedisError, OSError) as exc:
            # The message is out; failing now would only make a retry duplicate it.
            log.warning("telegram: could not record sent step %d (%s)", n, type(exc).__name__)

    # --- edit ------------------------------------------------------------------

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        chat, chat_id = chat_of(target)
        steps = plan(msg)
        if len(steps) > len(message_ids):
            raise gw.Rejected(
                f"the new text needs {len(steps)} Telegram messages, the original has "
                f"{len(message_ids)}: recall it and send it again"
            )
        first = True
        for n, (step, mid) in enumerate(zip(steps, message_ids, strict=False)):
            markup = keyboard(msg) if n == len(steps) - 1 else None
            if step.attachment is not None and step.html is None and markup is None:
                continue  # a second photo has no caption to change
            await self._permit(target, chat, first)
            first = False
            await self._edit_step(chat, chat_id, int(mid), step, markup)
        surplus = list(message_ids[len(steps) :])
        if surplus:
            await self.recall(target, surplus, time.time())

    async def _edit_step(
        self,
        chat: str,
        chat_id: int | str,
        mid: int,
        step: Step,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        async def call() -> Any:
            if step.attachment is not None:
                return await self._bot.edit_message_caption(
                    chat_id, mid, caption=step.html, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            return await self._bot.edit_message_text(
                step.html or "\u2063",
                chat_id,
                mid,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )

        try:
            await self._call(chat, call, is_send=False)
        except gw.Rejected as err:
            if "message is not modified" not in err.message.lower():
                raise  # an unchanged part is not an error

    # --- recall ----------------------------------------------------------------

    async def recall(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], sent_at: float
    ) -> None:
        if time.time() - sent_at >= DELETE_WINDOW_SECONDS:
            raise gw.NotPossible("Telegram bots cannot delete messages older than 48 hours")
        chat, chat_id = chat_of(target)
        refused: list[str] = []
        for mid in message_ids:
            if mid.startswith("poll:"):
                continue  # a poll's handle, not a message
            try:
                await self._call(
                    chat, partial(self._bot.delete_message, chat_id, int(mid)), is_send=False
                )
            except gw.NotPossible as err:
                if "not found" in err.message:
                    continue  # already deleted (by an admin, or by an earlier attempt)
                refused.append(f"{mid}: {err.message}")
        if refused:
            raise gw.NotPossible("Telegram refused to delete " + "; ".join(refused))

    async def leave(self, target: TargetId) -> None:
        """``leaveChat``. "bot is not a member" and "chat not found" come out as
        ``TargetGone`` (through ``translate``): the bot is already out."""
        chat, chat_id = chat_of(target)
        await self._call(chat, partial(self._bot.leave_chat, chat_id), is_send=False)
