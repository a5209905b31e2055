"""``palm run --role ingest|work``: the webhook in one process, the work in another.

An ingest process stores the update and answers 200 but runs no funnel (its consumer
group does not even exist until a work process starts); a work process on the same
Redis then turns the stored update into a ticket and sends the acknowledgement.
Each serves only its half of the HTTP routes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.app import Role, run_gateway
from gateway.config import GatewayConfig, TelegramConfig
from gateway.errors import ConfigError
from gateway.inbound import inbound_stream
from gateway.keys import Keys
from gateway.models import InboundMessage
from tests.core.helpers import free_port, palm
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import stored_events, wait_for

SECRET = "s3cret-webhook"
RESIDENT = 7301


def _config(config: GatewayConfig, telegram: TelegramConfig) -> tuple[GatewayConfig, str]:
    port = free_port()
    cfg = config.model_copy(
        update={
            "http": config.http.model_copy(update={"listen": f"127.0.0.1:{port}"}),
            "platforms": config.platforms.model_copy(update={"telegram": telegram}),
        }
    )
    return cfg, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def _palm(cfg: GatewayConfig, role: Role) -> AsyncIterator[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(run_gateway(cfg, ready=ready, role=role))
    try:
        async with asyncio.timeout(20):
            await asyncio.wait(
                {task, asyncio.create_task(ready.wait())}, return_when="FIRST_COMPLETED"
            )
        if task.done():
            task.result()  # raises what stopped it
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _status(session: aiohttp.ClientSession, method: str, url: str) -> int:
    async with session.request(method, url) as resp:
        await resp.read()
        return resp.status


async def test_ingest_stores_and_a_work_process_answers(
    fake: FakeTelegram,
    webhook_config: TelegramConfig,
    config: GatewayConfig,
    redis: Redis,
    keys: Keys,
) -> None:
    ingest_cfg, ingest = _config(config, webhook_config)
    work_cfg, work = _config(config, webhook_config)
    update = {"update_id": 4242, "message": fake.message(RESIDENT, "no water on floor 3")}
    async with aiohttp.ClientSession() as session, _palm(ingest_cfg, Role.INGEST):
        assert await fake.post_webhook(ingest + "/telegram/webhook", update, SECRET) == 200
        assert await fake.post_webhook(ingest + "/telegram/webhook", update, SECRET) == 200
        # Only the webhooks and the health routes: the API and console live in work.
        assert await _status(session, "GET", ingest + "/healthz") == 200
        assert await _status(session, "GET", ingest + "/api/v1/whoami") == 404
        assert await _status(session, "GET", ingest + "/console/") == 404
        # Stored once, and nobody consumes it: the funnel did not start here.
        [event] = await stored_events(redis, keys)
        assert isinstance(event, InboundMessage)
        assert (event.dedupe_key, event.text) == ("u4242", "no water on floor 3")
        assert await redis.xinfo_groups(inbound_stream(keys)) == []
        assert fake.sent_to(RESIDENT) == []

        async with _palm(work_cfg, Role.WORK):
            # The work process does not take webhooks (404 makes Telegram retry,
            # it never loses the update), but serves the API.
            hook = await fake.post_webhook(work + "/telegram/webhook", update, SECRET)
            assert hook == 404
            assert await _status(session, "GET", work + "/api/v1/whoami") == 401

            async def answered() -> bool:
                return bool(fake.sent_to(RESIDENT))

            await wait_for(answered, within=20)
            assert await redis.exists(keys("ticket", "T-1")) == 1
    # One acknowledgement for one update (the funnel removes what it consumed, so the
    # stream itself is empty by now).
    assert len(fake.sent_to(RESIDENT)) == 1


async def test_ingest_needs_a_webhook(tg_config: TelegramConfig, config: GatewayConfig) -> None:
    polling_cfg, _ = _config(config, tg_config)
    with pytest.raises(ConfigError, match="no platform receives by webhook"):
        await run_gateway(polling_cfg, role=Role.INGEST)


def test_cli_role_ingest_without_a_webhook_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "palm.yaml"
    cfg.write_text(
        "data_dir: ./var\n"
        f"http: {{listen: '127.0.0.1:{free_port()}'}}\n"
        "platforms: {telegram: {token: '123:abc', mode: polling}}\n"
    )
    done = palm("-c", str(cfg), "run", "--role", "ingest")
    assert done.returncode == 2, done.stderr
    assert "no platform receives by webhook" in done.stderr
    assert palm("-c", str(cfg), "run", "--role", "sideways").returncode == 2
