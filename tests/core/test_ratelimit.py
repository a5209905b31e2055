"""The shared limiter is exact: no rolling window ever holds more than its limit."""

from __future__ import annotations

import asyncio
import itertools
import time

from redis.asyncio import Redis

from gateway.keys import Keys
from gateway.models import RateRule
from gateway.ratelimit import RateLimiter


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_concurrent_limiters_never_exceed_the_limit(redis: Redis, keys: Keys) -> None:
    # Two limiter objects stand for two palm processes sharing one Redis.
    limiters = [RateLimiter(redis, keys), RateLimiter(redis, keys)]
    rule = RateRule("bot:test", limit=10, window=0.5)
    granted: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(5):
            assert await limiters[n % 2].acquire([rule], max_wait=10)
            granted.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(8))), 30)
    assert len(granted) == 40
    assert _max_in_window(granted, 0.5 - 0.02) <= 10
    # 40 sends at 10 per 0.5 s cannot finish in under 1.5 s; also proves waiting happened.
    assert max(granted) - min(granted) >= 1.4


async def test_all_rules_or_none(redis: Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis, keys)
    chat = RateRule("chat:1", limit=1, window=5)
    bot = RateRule("bot", limit=100, window=5)
    assert await limiter.try_acquire([bot, chat]) == 0
    wait = await limiter.try_acquire([bot, chat])
    assert 4 < wait <= 5
    # The refused send did not count against the bot-wide rule.
    assert await redis.zcard(keys("rate", "log", "bot")) == 1


async def test_pause_blocks_until_it_ends(redis: Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis, keys)
    rule = RateRule("bot:p", limit=100, window=1)
    await limiter.pause("bot:p", 0.6)
    await limiter.pause("bot:p", 0.1)  # a shorter pause never shortens a longer one
    assert await limiter.try_acquire([rule]) > 0.3
    start = time.monotonic()
    assert await limiter.acquire([rule], max_wait=5)
    assert time.monotonic() - start >= 0.3


async def test_spread_keeps_sends_apart(redis: Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis, keys)
    rule = RateRule("bot:s", limit=10, window=1.0, spread=True)
    granted: list[float] = []
    for _ in range(6):
        assert await limiter.acquire([rule], max_wait=5)
        granted.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    # 10 per second, spread: about 100 ms between sends, never a burst.
    assert min(gaps) >= 0.095
    plain = RateRule("bot:b", limit=10, window=1.0)
    start = time.monotonic()
    for _ in range(6):
        assert await limiter.try_acquire([plain]) == 0
    assert time.monotonic() - start < 0.5  # without spread the same six go at once
