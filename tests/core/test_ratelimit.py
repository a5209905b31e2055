"""The shared limiter is exact: no rolling window ever holds more than its limit."""

from __future__ import annotations

import asyncio
import itertools
import random
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
    for _ in range(6):
        assert await limiter.acquire([rule], max_wait=5)
    # The grants as the limiter recorded them (Redis time), not when this busy test
    # process got round to noting them: a late wake-up here is no burst there.
    log = await redis.zrange(keys("rate", "log", "bot:s"), 0, -1, withscores=True)
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(log)]
    assert len(gaps) == 5
    # 10 per second, spread: 100 ms between sends (the grid), never a burst.
    assert min(gaps) >= 100
    plain = RateRule("bot:b", limit=10, window=1.0)
    start = time.monotonic()
    for _ in range(6):
        assert await limiter.try_acquire([plain]) == 0
    assert time.monotonic() - start < 0.5  # without spread the same six go at once


async def test_stamp_counts_a_late_send_from_when_it_left(redis: Redis, keys: Keys) -> None:
    # A send that left long after its grant (a busy event loop): the next one in the
    # same chat is spaced from the moment the first really left, not from its grant.
    limiter = RateLimiter(redis, keys)
    chat = RateRule("chat:late", limit=1, window=5)
    assert await limiter.acquire([chat], member="first")
    await asyncio.sleep(1.0)
    await limiter.stamp([chat], "first")
    # From the grant the wait would be about 4 s; from the stamp it is nearly 5 s.
    assert await limiter.try_acquire([chat]) > 4.5


async def test_stamp_waits_for_a_send_that_left_in_between(redis: Redis, keys: Keys) -> None:
    # Granted, then another process's send of the same chat is recorded (it left first):
    # our send waits at the stamp until the window allows it after that one.
    limiter = RateLimiter(redis, keys)
    chat = RateRule("chat:between", limit=1, window=0.5)
    log_key = keys("rate", "log", "chat:between")
    assert await limiter.acquire([chat], member="ours")
    now_s, now_us = await redis.time()
    other = now_s * 1000 + now_us // 1000
    await redis.zadd(log_key, {"theirs": other})
    started = time.monotonic()
    await asyncio.wait_for(limiter.stamp([chat], "ours"), 10)
    assert time.monotonic() - started >= 0.4
    ours = await redis.zscore(log_key, "ours")
    assert ours is not None
    assert ours >= other + 500


async def test_stamp_of_an_unknown_member_records_nothing(redis: Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis, keys)
    chat = RateRule("chat:none", limit=1, window=5)
    await limiter.stamp([chat], "never-granted")
    assert await redis.zcard(keys("rate", "log", "chat:none")) == 0


async def test_a_paced_rule_spaces_a_process_s_grants_evenly(redis: Redis, keys: Keys) -> None:
    # 40 workers ask at once under 200 per 1 s: the shared log alone would grant all
    # 40 in one burst (its window is far from full); the pace gives the k-th a slot
    # 5 ms * k after the first. A sleep never ends early, so the k-th grant comes no
    # sooner than that whatever the machine's load (a stall only makes it later).
    limiter = RateLimiter(redis, keys)
    rule = RateRule("paid:test", limit=200, window=1.0, pace=True)
    granted: list[float] = []

    async def worker() -> None:
        assert await limiter.acquire([rule])
        granted.append(time.monotonic())

    start = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(40))), 30)
    for k, at in enumerate(sorted(granted)):
        assert at >= start + k * 0.005 - 0.001
    # Unpaced, the same 40 go at once (the test can fail).
    burst: list[float] = []

    async def unpaced() -> None:
        assert await limiter.acquire([RateRule("free:test", limit=200, window=1.0)])
        burst.append(time.monotonic())

    await asyncio.gather(*(unpaced() for _ in range(40)))
    assert min(b - a for a, b in itertools.pairwise(sorted(burst))) < 0.004


async def test_a_send_in_flight_counts_until_its_answer(redis: Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis, keys)
    chat = RateRule("chat:flight", limit=1, window=0.3)
    assert await limiter.acquire([chat], member="a")
    await limiter.stamp([chat], "a", until_sent=True)
    # In flight a window after its stamp: it may still reach the platform, so it holds
    # its window; the wait given is one window (its answer comes no sooner than now).
    await asyncio.sleep(0.35)
    assert 0.25 < await limiter.try_acquire([chat]) <= 0.3
    await limiter.sent([chat], "a")
    assert 0.25 < await limiter.try_acquire([chat]) <= 0.31
    await asyncio.sleep(0.32)
    assert await limiter.try_acquire([chat]) == 0


async def test_windows_hold_at_a_platform_that_receives_requests_late(
    redis: Redis, keys: Keys
) -> None:
    # The platform counts a send when it arrives: 0 or 60 ms after palm's stamp, at
    # random (a busy network, a busy platform). Counted from the answer, no rolling
    # window of the platform's clock ever holds more than the limit. Counted from the
    # stamp (no ``until_sent``, no ``sent``) the same sends put 7 in one window.
    limiter = RateLimiter(redis, keys)
    rule = RateRule("bot:late", limit=5, window=0.25, spread=True)
    arrivals: list[float] = []
    rng = random.Random(7)

    async def send(n: int) -> None:
        member = f"m{n}"
        assert await limiter.acquire([rule], member=member)
        await limiter.stamp([rule], member, until_sent=True)
        await asyncio.sleep(rng.choice((0.0, 0.06)))
        arrivals.append(time.monotonic())
        await asyncio.sleep(0.002)
        await limiter.sent([rule], member)

    async def worker(w: int) -> None:
        for i in range(12):
            await send(w * 100 + i)

    await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(3))), 60)
    assert len(arrivals) == 36
    assert _max_in_window(arrivals, 0.25) <= 5
