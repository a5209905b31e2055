"""Webhook mode over real HTTP: secret checked, 200 only once durable, 503 while Redis is down."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from adapters.telegram.cli import set_webhook
from gateway.config import GatewayConfig, TelegramConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import Command, InboundMessage
from tests.fakes.redis_proxy import RedisFaultProxy
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import make_ctx, stored_events

SECRET = "s3cret-webhook"


async def serve(adapter: TelegramAdapter) -> TestServer:
    app = web.Application()
    for route in adapter.routes():
        app.router.add_route(route.method, route.path, route.handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def hook(
    fake: FakeTelegram, webhook_config: TelegramConfig, redis: Redis, keys: Keys
) -> AsyncIterator[tuple[TelegramAdapter, str]]:
    adapter = TelegramAdapter(webhook_config, GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    server = await serve(adapter)
    try:
        yield adapter, str(server.make_url("/telegram/webhook"))
    finally:
        await server.close()
        await adapter.aclose()


async def test_bad_or_missing_secret_is_rejected(
    fake: FakeTelegram, hook: tuple[TelegramAdapter, str], redis: Redis, keys: Keys
) -> None:
    _, url = hook
    update = {"message": fake.message(42, "hello")}
    assert await fake.post_webhook(url, update, "wrong") == 403
    assert await fake.post_webhook(url, update, None) == 401
    assert await stored_events(redis, keys) == []


async def test_good_secret_stores_once(
    fake: FakeTelegram, hook: tuple[TelegramAdapter, str], redis: Redis, keys: Keys
) -> None:
    _, url = hook
    update = {"update_id": 500, "message": fake.message(-100999, "/report 电梯坏了")}
    assert await fake.post_webhook(url, update, SECRET) == 200
    assert await fake.post_webhook(url, update, SECRET) == 200  # Telegram's retry: deduped
    [event] = await stored_events(redis, keys)
    assert isinstance(event, InboundMessage)
    assert (event.command, event.text, event.dedupe_key) == (Command.REPORT, "电梯坏了", "u500")


async def test_redis_down_answers_503_and_telegrams_retry_is_stored(
    fake: FakeTelegram, webhook_config: TelegramConfig, redis: Redis, keys: Keys, redis_url: str
) -> None:
    host, _, port = redis_url.split("://", 1)[1].split("/", 1)[0].rpartition(":")
    async with RedisFaultProxy(host or "127.0.0.1", int(port or 6379)) as proxy:
        proxied = Redis.from_url(proxy.url, socket_connect_timeout=0.5)
        adapter = TelegramAdapter(webhook_config, GatewayConfig())
        await adapter.start(make_ctx(redis, keys, RedisInboundSink(proxied, keys)))
        server = await serve(adapter)
        try:
            url = str(server.make_url("/telegram/webhook"))
            update = {"update_id": 901, "message": fake.message(42, "no water since 8:00")}
            proxy.cut()
            first = await fake.post_webhook(url, update, SECRET)
            assert await stored_events(redis, keys) == []  # 503: not stored, not claimed
            proxy.restore()
            retried = await fake.post_webhook(url, update, SECRET)  # Telegram sends it again
            again = await fake.post_webhook(url, update, SECRET)  # ...and once more: deduped
        finally:
            await server.close()
            await adapter.aclose()
            await proxied.aclose()
    assert (first, retried, again) == (503, 200, 200)
    [event] = await stored_events(redis, keys)
    assert isinstance(event, InboundMessage)
    assert (event.text, event.dedupe_key) == ("no water since 8:00", "u901")


async def test_set_webhook_registers_secret_and_updates(
    fake: FakeTelegram, webhook_config: TelegramConfig
) -> None:
    out = await set_webhook(webhook_config, "https://palm.example.org/telegram/webhook")
    assert "palm.example.org" in out
    assert fake.bot.webhook_url == "https://palm.example.org/telegram/webhook"
    assert fake.bot.webhook_secret == SECRET
    assert fake.bot.allowed_updates == [
        "message",
        "edited_message",
        "my_chat_member",
        "callback_query",
        "poll_answer",
    ]
