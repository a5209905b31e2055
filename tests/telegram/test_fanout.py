"""Fan-out under the shared limiter: the fake counts 0 limit violations; 429s lose nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.config import GatewayConfig, TelegramConfig
from gateway.keys import Keys
from gateway.models import ChatKind, OutboundMessage, RateRule, TargetId
from gateway.ratelimit import RateLimiter
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import deliver, make_ctx


async def fan_out(
    fake: FakeTelegram,
    config: TelegramConfig,
    redis: Redis,
    keys: Keys,
    chats: list[int],
    *,
    workers: int = 50,
    instances: int = 2,
) -> float:
    """Send one message per entry of ``chats`` from ``instances`` adapters; return msg/s."""
    adapters = [TelegramAdapter(config, GatewayConfig()) for _ in range(instances)]
    for n, a in enumerate(adapters):
        await a.start(make_ctx(redis, keys, name=f"p{n}"))
    limiters = [RateLimiter(redis, keys) for _ in adapters]
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for i, chat in enumerate(chats):
        queue.put_nowait((i, chat))

    async def worker(w: int) -> None:
        adapter, limiter = adapters[w % instances], limiters[w % instances]
        while not queue.empty():
            i, chat = queue.get_nowait()
            msg = OutboundMessage(TargetId(f"telegram:{chat}"), f"notice {i}", f"d-{i}")
            await deliver(adapter, limiter, msg)

    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.TaskGroup() as tg:
            for w in range(workers):
                tg.create_task(worker(w))
    finally:
        for a in adapters:
            await a.aclose()
    return len(chats) / (loop.time() - started)


def check_exactly_once(fake: FakeTelegram, chats: list[int]) -> None:
    got = Counter((m.chat_id, m.text) for m in fake.messages)
    want = Counter((chat, f"notice {i}") for i, chat in enumerate(chats))
    assert got == want


async def test_fan_out_300_chats_keeps_every_limit(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    groups = [-1001000000000 - g for g in range(10)]
    chats = list(range(1000, 1300)) + groups + groups  # two notices into each group
    rate = await fan_out(fake, tg_config, redis, keys, chats)
    print(f"\n300-chat fan-out: {rate:.1f} msg/s, violations {fake.violations}")
    check_exactly_once(fake, chats)
    assert fake.violations == 0, fake.bot.violation_log[:5]


async def test_one_group_gets_at_most_20_a_minute(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    # 20 notices into one group go out; the shared limiter then holds the 21st back.
    group = -1002000000000
    adapter = TelegramAdapter(tg_config, GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    limiter = RateLimiter(redis, keys)
    try:
        for i in range(20):
            await deliver(
                adapter, limiter, OutboundMessage(TargetId(f"telegram:{group}"), f"n{i}", f"g{i}")
            )
        assert fake.violations == 0
        wait = await limiter.try_acquire(
            adapter.rate_rules(TargetId(f"telegram:{group}"), ChatKind.GROUP)
        )
        assert wait > 30  # most of the minute is left
    finally:
        await adapter.aclose()


async def test_429_storm_loses_nothing(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    fake.fail("retry_after", method="sendMessage", times=40, retry_after=1)
    chats = list(range(5000, 5100))
    await fan_out(fake, tg_config, redis, keys, chats, workers=20)
    assert fake.bot.forced_429 == 40
    check_exactly_once(fake, chats)
    assert fake.violations == 0


@pytest.mark.paced
@pytest.mark.slow
async def test_fan_out_3000_chats_keeps_every_limit(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    groups = [-1003000000000 - g for g in range(40)]
    chats = list(range(10_000, 13_000)) + groups + groups
    rate = await fan_out(fake, tg_config, redis, keys, chats)
    print(f"\n3000-chat fan-out: {rate:.1f} msg/s, violations {fake.violations}")
    check_exactly_once(fake, chats)
    assert fake.violations == 0, fake.bot.violation_log[:5]


async def test_windows_hold_when_requests_reach_telegram_late(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    # A busy network or a busy Telegram: every third chat's requests are counted 80 ms
    # after they left palm, the others at once. Counted from the answers, no window
    # breaks; counted from the stamp (BOT_MARGIN is 5 ms now), the 30/s would.
    chats = list(range(2000, 2075))
    for chat in chats[::3]:
        fake.fail("latency", chat_id=chat, delay=0.08)
    await fan_out(fake, tg_config, redis, keys, chats, workers=16)
    check_exactly_once(fake, chats)
    assert fake.violations == 0, fake.bot.violation_log[:5]


async def test_the_further_steps_of_a_long_text_count_from_their_answers_too(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    # A text over 4,096 characters goes as two messages; the second takes its own
    # permit inside the adapter, and is counted as the core counts the first.
    chats = list(range(3000, 3040))
    for chat in chats[::3]:
        fake.fail("latency", chat_id=chat, delay=0.08)
    adapter = TelegramAdapter(tg_config, GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    limiter = RateLimiter(redis, keys)
    queue = list(chats)

    async def worker() -> None:
        while queue:
            chat = queue.pop()
            msg = OutboundMessage(TargetId(f"telegram:{chat}"), "水" * 5000, f"long-{chat}")
            await deliver(adapter, limiter, msg)

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(16):
                tg.create_task(worker())
    finally:
        await adapter.aclose()
    assert Counter(m.chat_id for m in fake.messages) == Counter(chats * 2)
    assert fake.violations == 0, fake.bot.violation_log[:5]


async def test_the_first_part_of_a_long_text_counts_from_its_answer(
    fake: FakeTelegram,
    tg_config: TelegramConfig,
    redis: Redis,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second part waits for the first to be counted (1 per second in a chat). The
    # first rides on the worker's permit: the adapter counts it from the first part's
    # answer, not the worker at the end of the whole send (0.5 s in flight meanwhile).
    counted: list[tuple[str, int]] = []
    real = RateLimiter.sent

    async def spy(self: RateLimiter, rules: Sequence[RateRule], member: str) -> None:
        counted.append((member, len(fake.messages)))
        await real(self, rules, member)

    monkeypatch.setattr(RateLimiter, "sent", spy)
    adapter = TelegramAdapter(tg_config, GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    try:
        msg = OutboundMessage(TargetId("telegram:3100"), "水" * 5000, "long-3100")
        await deliver(adapter, RateLimiter(redis, keys), msg)
    finally:
        await adapter.aclose()
    assert len(fake.messages) == 2
    worker = counted[-1][0]  # the worker counts its permit last, after the whole send
    assert counted[0] == (worker, 1), counted  # ... and the adapter after the first part
    assert len(counted) == 3, counted  # the second part's own permit between them
