"""Polling: durable before confirmed, exactly once, one poller per bot, 409 without spin."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.config import GatewayConfig, TelegramConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import Command, InboundMessage
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import LEASE, make_ctx, running, stored_events, wait_for

GROUP = -1001234567890
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def messages(redis: Redis, keys: Keys) -> list[InboundMessage]:
    return [e for e in await stored_events(redis, keys) if isinstance(e, InboundMessage)]


async def offset_of(redis: Redis, keys: Keys, fake: FakeTelegram) -> str | None:
    value = await redis.hget(keys("telegram", fake.bot.bot_id, "offset"), "offset")
    return None if value is None else str(value)


async def test_private_and_group_report_arrive_exactly_once(
    fake: FakeTelegram, adapter: TelegramAdapter, redis: Redis, keys: Keys
) -> None:
    fake.private_message(42, "the lift is stuck")
    fake.group_message(GROUP, "/report the fire hydrant by building 5 is broken")
    fake.group_message(GROUP, "just chatting")  # not for the bot: dropped, but confirmed
    async with running(adapter):
        await wait_for(lambda: _offset_is(redis, keys, fake, "4"))
        # confirmed to Telegram by the next poll
        await wait_for(lambda: _true(not fake.bot.updates))
    got = await messages(redis, keys)
    assert [(m.target, m.command, m.text) for m in got] == [
        ("telegram:42", None, "the lift is stuck"),
        (f"telegram:{GROUP}", Command.REPORT, "the fire hydrant by building 5 is broken"),
    ]


async def _true(value: bool) -> bool:
    return value


async def _offset_is(redis: Redis, keys: Keys, fake: FakeTelegram, want: str) -> bool:
    return await offset_of(redis, keys, fake) == want


async def test_sink_unavailable_never_confirms(
    fake: FakeTelegram,
    tg_config: TelegramConfig,
    redis: Redis,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    adapter = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await adapter.start(make_ctx(redis, keys, RedisInboundSink(dead, keys)))
    fake.private_message(42, "hello")
    fake.private_message(43, "hi")
    try:
        async with running(adapter):
            await asyncio.sleep(3.0)
    finally:
        await adapter.aclose()
        await dead.aclose()
    assert await offset_of(redis, keys, fake) is None
    assert len(fake.bot.updates) == 2  # still unconfirmed at Telegram
    retries = [r for r in caplog.records if "cannot store updates" in r.getMessage()]
    assert len(retries) >= 2  # kept the batch and retried, with back-off
    # Redis back: the same batch is stored once.
    again = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await again.start(make_ctx(redis, keys))
    try:
        async with running(again):
            await wait_for(lambda: _offset_is(redis, keys, fake, "3"))
    finally:
        await again.aclose()
    assert [m.text for m in await messages(redis, keys)] == ["hello", "hi"]


async def test_two_pollers_never_poll_at_once(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    a = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    b = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await a.start(make_ctx(redis, keys, name="a"))
    await b.start(make_ctx(redis, keys, name="b"))
    try:
        async with running(a), running(b):
            for i in range(10):
                fake.private_message(100 + i, f"msg {i}")
                await asyncio.sleep(0.3)
            await wait_for(lambda: _offset_is(redis, keys, fake, "11"))
    finally:
        await a.aclose()
        await b.aclose()
    assert fake.bot.overlapping_polls == 0
    assert fake.bot.polls >= 3
    assert sorted(m.text for m in await messages(redis, keys)) == [f"msg {i}" for i in range(10)]


async def test_second_poller_takes_over_when_the_first_stops(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    a = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    b = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await a.start(make_ctx(redis, keys, name="a"))
    await b.start(make_ctx(redis, keys, name="b"))
    try:
        async with running(b):
            async with running(a):
                fake.private_message(1, "first")
                await wait_for(lambda: _offset_is(redis, keys, fake, "2"))
            fake.private_message(2, "second")  # whoever held it, the other continues
            await wait_for(lambda: _offset_is(redis, keys, fake, "3"), within=LEASE + 5)
    finally:
        await a.aclose()
        await b.aclose()
    assert [m.text for m in await messages(redis, keys)] == ["first", "second"]
    assert fake.bot.overlapping_polls == 0


async def test_conflict_is_logged_and_backs_off(
    fake: FakeTelegram, adapter: TelegramAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("conflict", method="getUpdates")
    async with running(adapter):
        await asyncio.sleep(4.0)
    calls = fake.bot.requests["getUpdates"]
    # back-off 1, 2, 4 s (+-20%): at most 4 calls in 4 s; a spinning loop makes hundreds
    assert 2 <= calls <= 4
    conflicts = [r for r in caplog.records if "409 Conflict" in r.getMessage()]
    assert len(conflicts) == 1  # logged once per minute, not per attempt


async def test_update_id_jump_down_after_a_quiet_week(
    fake: FakeTelegram, tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> None:
    # A stored offset from 8 days ago, higher than what Telegram now numbers from.
    await redis.hset(
        keys("telegram", fake.bot.bot_id, "offset"),
        mapping={"offset": 900_000, "at": time.time() - 8 * 86400},
    )
    fake.jump_update_id(5_000)
    fake.private_message(42, "after the holidays")
    adapter = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await adapter.start(make_ctx(redis, keys))
    try:
        async with running(adapter):
            await wait_for(lambda: _offset_is(redis, keys, fake, "5001"))
            fake.jump_update_id(777_777)  # and a jump up is just followed
            fake.private_message(43, "later")
            await wait_for(lambda: _offset_is(redis, keys, fake, "777778"))
    finally:
        await adapter.aclose()
    assert [m.text for m in await messages(redis, keys)] == ["after the holidays", "later"]


@pytest.mark.parametrize("mode", ["before", "after"])
async def test_kill_9_mid_batch_loses_and_duplicates_nothing(
    mode: str,
    fake: FakeTelegram,
    tg_config: TelegramConfig,
    redis: Redis,
    redis_url: str,
    keys: Keys,
) -> None:
    fake.private_message(42, "resident private message")
    fake.group_message(GROUP, "/report water everywhere")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.telegram.poll_child",
        redis_url,
        keys.prefix,
        fake.base_url,
        fake.token,
        mode,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(20):
            line = await child.stdout.readline()
        assert line.strip() == (b"ACCEPTING" if mode == "before" else b"ACCEPTED")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
    assert await offset_of(redis, keys, fake) is None  # never confirmed
    assert len(await messages(redis, keys)) == (0 if mode == "before" else 2)
    # restart: the child's lease expires, the batch comes again, the sink dedupes
    again = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await again.start(make_ctx(redis, keys, name="restarted"))
    try:
        async with running(again):
            await wait_for(lambda: _offset_is(redis, keys, fake, "3"), within=LEASE + 10)
    finally:
        await again.aclose()
    got = await messages(redis, keys)
    assert sorted(m.text for m in got) == ["resident private message", "water everywhere"]
