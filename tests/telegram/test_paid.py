"""``platforms.telegram.paid_broadcast``: the flag on the right sends, the 1,000/s rule
instead of 30/s for them, and the fall-back when the bot cannot pay."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from adapters.telegram.limits import bot_key, chat_key, paid_key
from adapters.telegram.paid import PAID_FALLBACK
from gateway.config import GatewayConfig
from gateway.keys import Keys
from gateway.models import ChatKind, OutboundMessage, Priority, TargetId
from gateway.ratelimit import RateLimiter
from tests.fakes.telegram_api import ApiError, FakeTelegram
from tests.telegram.conftest import deliver, make_config, make_ctx
from tests.telegram.test_fanout import check_exactly_once, fan_out


def out(chat: int, text: str, priority: Priority = Priority.NORMAL) -> OutboundMessage:
    return OutboundMessage(
        TargetId(f"telegram:{chat}"), text, f"p-{chat}-{time.time()}", priority=priority
    )


def fallbacks() -> float:
    return PAID_FALLBACK._value.get()  # type: ignore[attr-defined, no-any-return]


async def started(fake: FakeTelegram, redis: Redis, keys: Keys, mode: str) -> TelegramAdapter:
    a = TelegramAdapter(make_config(fake, paid_broadcast=mode), GatewayConfig())
    await a.start(make_ctx(redis, keys))
    return a


def test_fake_counts_paid_sends_against_1000_per_second_not_30() -> None:
    fake = FakeTelegram()
    bot = fake.bot
    for chat in range(100):  # 100 paid sends at once: within 1,000/s
        fake._check_limits(bot, chat, paid=True)
    assert bot.violations == 0
    for chat in range(100, 130):  # 30 free ones on top still fit the free 30/s
        fake._check_limits(bot, chat)
    with pytest.raises(ApiError):
        fake._check_limits(bot, 131)  # the 31st free one in a second does not
    assert bot.violation_log == ["30/s per bot"]
    with pytest.raises(ApiError):
        fake._check_limits(bot, 0, paid=True)  # paid or not, 1/s per chat holds
    assert bot.violation_log[-1] == "1/s in chat 0"


def test_paid_broadcast_defaults_to_off_and_takes_only_its_three_values() -> None:
    fake = FakeTelegram()
    assert make_config(fake).paid_broadcast == "off"
    with pytest.raises(ValidationError, match="paid_broadcast"):
        make_config(fake, paid_broadcast="yes")


async def test_urgent_mode_pays_for_urgent_sends_only(
    fake: FakeTelegram, redis: Redis, keys: Keys
) -> None:
    a = await started(fake, redis, keys, "urgent")
    try:
        bot_id = fake.bot.bot_id
        target = TargetId("telegram:42")
        urgent = [r.key for r in a.rate_rules(target, ChatKind.DIRECT, Priority.URGENT)]
        normal = [r.key for r in a.rate_rules(target, ChatKind.DIRECT)]
        assert urgent == [paid_key(bot_id), chat_key(bot_id, "42")]
        # A free send counts in 30/s and in the bot's 1,000/s (Telegram's is over all).
        assert normal == [bot_key(bot_id), paid_key(bot_id), chat_key(bot_id, "42")]
        limiter = RateLimiter(redis, keys)
        await deliver(a, limiter, out(42, "Typhoon warning", Priority.URGENT))
        await deliver(a, limiter, out(43, "Bins on Tuesday"))
        assert [(m.chat_id, m.paid) for m in fake.messages] == [(42, True), (43, False)]
    finally:
        await a.aclose()


async def test_off_never_sets_the_flag(fake: FakeTelegram, redis: Redis, keys: Keys) -> None:
    a = await started(fake, redis, keys, "off")
    try:
        rules = a.rate_rules(TargetId("telegram:42"), ChatKind.DIRECT, Priority.URGENT)
        assert [r.key for r in rules] == [bot_key(fake.bot.bot_id), chat_key(fake.bot.bot_id, "42")]
        await a.send(out(42, "Typhoon warning", Priority.URGENT))
        assert [m.paid for m in fake.messages] == [False]
    finally:
        await a.aclose()


async def test_a_bot_that_cannot_pay_falls_back_to_the_free_rate(
    fake: FakeTelegram, redis: Redis, keys: Keys
) -> None:
    fake.bot.paid_broadcast = False
    a = await started(fake, redis, keys, "all")
    try:
        before = fallbacks()
        limiter = RateLimiter(redis, keys)
        receipt = await deliver(a, limiter, out(42, "Typhoon warning", Priority.URGENT))
        [sent] = fake.messages
        assert receipt.message_ids == (str(sent.message_id),)
        assert (sent.paid, sent.text) == (False, "Typhoon warning")
        assert fallbacks() == before + 1
        # From now on this process asks for the free rate (and does not pay).
        rules = a.rate_rules(TargetId("telegram:43"), ChatKind.DIRECT, Priority.URGENT)
        assert rules[0].key == bot_key(fake.bot.bot_id)
        await deliver(a, limiter, out(43, "Typhoon warning", Priority.URGENT))
        assert [m.paid for m in fake.messages] == [False, False]
        assert fallbacks() == before + 1
        assert fake.violations == 0
    finally:
        await a.aclose()


async def test_paid_fan_out_from_two_processes_breaks_no_limit(
    fake: FakeTelegram, redis: Redis, keys: Keys
) -> None:
    # Every send paid: the shared limiter lets them past 30/s, and the fake (1,000/s for
    # paid sends, 1/s per chat) counts no violation; each chat gets its notice once.
    chats = [7_000 + i for i in range(120)] + [7_000 + i for i in range(20)]
    await fan_out(fake, make_config(fake, paid_broadcast="all"), redis, keys, chats)
    check_exactly_once(fake, chats)
    assert fake.violations == 0
    assert all(m.paid for m in fake.messages)


async def test_a_send_right_after_the_fall_back_takes_a_free_permit_itself(
    fake: FakeTelegram, redis: Redis, keys: Keys
) -> None:
    # Another worker's paid send was just refused; this send's permit (taken before) may
    # be a paid one: it goes free, so it also takes a permit of the free 30/s.
    a = await started(fake, redis, keys, "urgent")
    try:
        a._paid.refused("Bad Request: BALANCE_TOO_LOW")
        free_log = keys("rate", "log", bot_key(fake.bot.bot_id))
        assert await redis.zcard(free_log) == 0
        await a.send(out(42, "Typhoon warning", Priority.URGENT))
        assert await redis.zcard(free_log) == 1
        assert [m.paid for m in fake.messages] == [False]
        await a.send(out(43, "Bins on Tuesday"))  # a normal send: its permit was free
        assert await redis.zcard(free_log) == 1
    finally:
        await a.aclose()
