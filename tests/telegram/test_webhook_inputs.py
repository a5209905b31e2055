"""Hostile requests to the Telegram webhook: a clear 4xx, never a 500, nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.config import GatewayConfig, TelegramConfig
from gateway.keys import Keys
from gateway.metrics import INBOUND_MALFORMED
from tests.fakes.telegram_api import FakeTelegram
from tests.hardening.rawhttp import raw_request
from tests.telegram.conftest import make_ctx, stored_events

SECRET = b"s3cret-webhook"


@pytest.fixture
async def server(
    fake: FakeTelegram, webhook_config: TelegramConfig, redis: Redis, keys: Keys
) -> AsyncIterator[TestServer]:
    adapter = TelegramAdapter(webhook_config, GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    app = web.Application()
    for route in adapter.routes():
        app.router.add_route(route.method, route.path, route.handler)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield srv
    finally:
        await srv.close()
        await adapter.aclose()


def _head(secret: bytes) -> bytes:
    return (
        b"POST /telegram/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
    )


@pytest.mark.parametrize("secret", [b"\xff\xfe", "s3cret-webhooké".encode(), b"\xed\xa0\x80"])
async def test_non_ascii_secret_is_403(
    server: TestServer, secret: bytes, redis: Redis, keys: Keys
) -> None:
    assert server.port is not None
    status, _ = await raw_request(server.host, server.port, _head(secret), b"{}")
    assert status == 403
    assert await stored_events(redis, keys) == []


@pytest.mark.parametrize(
    "body", [b"[" * 50000, b'{"update_id": 1, "message": ' * 5000, b"\xff", b'"\\ud800"']
)
async def test_deep_or_broken_json_is_400(
    server: TestServer, body: bytes, redis: Redis, keys: Keys
) -> None:
    assert server.port is not None
    status, _ = await raw_request(server.host, server.port, _head(SECRET), body)
    assert status == 400
    assert await stored_events(redis, keys) == []


async def test_json_that_is_no_update_is_counted_and_answered_200(
    server: TestServer, redis: Redis, keys: Keys
) -> None:
    # 200, so Telegram does not retry a malformed update forever; counted, not stored.
    assert server.port is not None
    before = INBOUND_MALFORMED.labels(platform="telegram")._value.get()
    status, _ = await raw_request(server.host, server.port, _head(SECRET), b"[1, {}]")
    assert status == 200
    assert INBOUND_MALFORMED.labels(platform="telegram")._value.get() == before + 1
    assert await stored_events(redis, keys) == []
