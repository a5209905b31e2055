"""Fixtures for the Telegram adapter: a fresh fake Bot API server per test, real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.adapter import AdapterContext, InboundSink
from gateway.codec import decode_event
from gateway.config import GatewayConfig, TelegramConfig, TelegramWebhookConfig
from gateway.errors import RateLimited
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from gateway.models import ChatKind, InboundEvent, OutboundMessage, SendReceipt
from gateway.ratelimit import RateLimiter
from tests.fakes.telegram_api import FakeTelegram

LEASE = 6.0  # short, so take-over tests stay quick; polls last 1 s


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


def make_config(fake: FakeTelegram, **kw: object) -> TelegramConfig:
    data: dict[str, object] = {
        "token": SecretStr(fake.token),
        "base_url": fake.base_url,
        "poll_timeout": 1,
    }
    data.update(kw)
    return TelegramConfig.model_validate(data)


@pytest.fixture
def tg_config(fake: FakeTelegram) -> TelegramConfig:
    return make_config(fake)


@pytest.fixture
def webhook_config(fake: FakeTelegram) -> TelegramConfig:
    hook = TelegramWebhookConfig(secret=SecretStr("s3cret-webhook"))
    return make_config(fake, mode="webhook", webhook=hook)


def make_ctx(
    redis: Redis, keys: Keys, sink: InboundSink | None = None, name: str = "t1"
) -> AdapterContext:
    return AdapterContext(redis, keys, sink or RedisInboundSink(redis, keys), name)


@pytest.fixture
async def adapter(
    tg_config: TelegramConfig, redis: Redis, keys: Keys
) -> AsyncIterator[TelegramAdapter]:
    a = TelegramAdapter(tg_config, GatewayConfig(), lease_seconds=LEASE)
    await a.start(make_ctx(redis, keys))
    try:
        yield a
    finally:
        await a.aclose()


async def stored_events(redis: Redis, keys: Keys) -> list[InboundEvent]:
    entries = await redis.xrange(inbound_stream(keys))
    return [decode_event(fields["e"]) for _, fields in entries]


async def wait_for(cond: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``cond`` (it reads Redis or the fake: there is no event to wait on)."""
    async with asyncio.timeout(within):
        while not await cond():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(adapter: TelegramAdapter) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(adapter.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def deliver(
    adapter: TelegramAdapter, limiter: RateLimiter, msg: OutboundMessage
) -> SendReceipt:
    """What the core's delivery worker does: a permit for every rule, stamped at the
    moment of the send and, unless paced, counted from the answer (ratelimit.py), then
    send; on 429 the pause is set by the adapter, so the next permit waits it out."""
    kind = ChatKind.GROUP if msg.target.startswith("telegram:-") else ChatKind.DIRECT
    while True:
        rules = adapter.rate_rules(msg.target, kind, msg.priority)
        until_sent = not any(r.pace for r in rules)
        permit = secrets.token_hex(8)
        await limiter.acquire(rules, member=permit)
        await limiter.stamp(rules, permit, until_sent=until_sent)
        try:
            try:
                return await adapter.send(replace(msg, permit=permit if until_sent else None))
            finally:
                if until_sent:
                    await limiter.sent(rules, permit)
        except RateLimited as exc:
            if exc.scope is None:
                await asyncio.sleep(exc.retry_after or 1.0)
