"""Synapse's message rate limit, stock and lifted, against the real server.

The figures are printed (run with ``-s``); nothing here asserts on speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from adapters.matrix.adapter import UNLIMITED
from gateway.errors import RateLimited
from gateway.keys import Keys
from gateway.models import OutboundMessage, SendReceipt, TargetId
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import bot_config, running

pytestmark = pytest.mark.synapse


async def _send_honouring_429(
    ad: MatrixAdapter, msg: OutboundMessage
) -> tuple[SendReceipt, list[RateLimited]]:
    """What the core's worker does: wait ``retry_after`` and send again (same txn id)."""
    limited: list[RateLimited] = []
    while True:
        try:
            return await ad.send(msg), limited
        except RateLimited as exc:
            limited.append(exc)
            await asyncio.sleep(exc.retry_after or 1.0)


def _check_429s(ad: MatrixAdapter, limited: list[RateLimited]) -> None:
    for exc in limited:
        assert exc.scope == ad.rate_key
        assert exc.retry_after is not None
        assert 0 < exc.retry_after <= 10


async def _room_with_bot(alice: User, bot: User) -> tuple[str, TargetId]:
    room = await alice.create_room(invite=[bot.user_id], name="Rate room")
    await bot.join(room)
    return room, TargetId(f"matrix:{room}")


async def _check_all_once(alice: User, room: str, texts: list[str], ids: list[str]) -> None:
    got = [e for e in await alice.messages(room) if e["content"].get("body") in set(texts)]
    assert [e["content"]["body"] for e in got] == texts, "lost, duplicated or reordered"
    assert [e["event_id"] for e in got] == ids


@pytest.mark.paced
@pytest.mark.slow
async def test_stock_rc_message_30_sends_all_arrive(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot", lifted=False)  # Synapse's stock rc_message: 0.2/s, burst 10
    alice = await new_user("alice")
    room, target = await _room_with_bot(alice, bot)
    texts = [f"stock {i}" for i in range(30)]
    ids: list[str] = []
    total_429 = 0
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as ad:
        start = time.monotonic()
        async with asyncio.timeout(150):
            for i, text in enumerate(texts):
                msg = OutboundMessage(target, text, idempotency_key=f"stock-{i}")
                receipt, limited = await _send_honouring_429(ad, msg)
                _check_429s(ad, limited)
                total_429 += len(limited)
                ids.append(receipt.message_ids[0])
        elapsed = time.monotonic() - start
    await _check_all_once(alice, room, texts, ids)
    assert total_429 > 0, "the stock limit never answered 429: is rc_message lifted?"
    print(
        f"\nstock rc_message: 30 sends in {elapsed:.1f}s (floor ~100s: burst 10 then 1 per 5s),"
        f" {total_429} answers 429, {30 / elapsed:.2f} msg/s"
    )


async def test_lifted_limit_30_sends(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")  # override_ratelimit 0/0
    alice = await new_user("alice")
    room, target = await _room_with_bot(alice, bot)
    texts = [f"lifted {i}" for i in range(30)]
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as ad:
        start = time.monotonic()
        ids = []
        for i, text in enumerate(texts):
            receipt, limited = await _send_honouring_429(
                ad, OutboundMessage(target, text, idempotency_key=f"lifted-{i}")
            )
            assert limited == []
            ids.append(receipt.message_ids[0])
        elapsed = time.monotonic() - start
    await _check_all_once(alice, room, texts, ids)
    print(f"\nlifted limit: 30 sequential sends in {elapsed:.2f}s ({30 / elapsed:.0f} msg/s)")


def test_rate_rules_translate_the_setting() -> None:
    from gateway.config import MatrixConfig, MatrixRateConfig

    cfg = MatrixConfig(homeserver="http://x", user_id="@p:x", access_token="t")
    (carrier,) = MatrixAdapter(cfg).rate_rules(TargetId("matrix:!a:x"), ...)  # type: ignore[arg-type]
    # No own limit, but the rule is there so a 429 pause on the bot key holds every send.
    assert (carrier.key, carrier.limit) == ("matrix:@p:x:bot", UNLIMITED)
    rated = cfg.model_copy(update={"rate": MatrixRateConfig(messages_per_second=0.2, burst=10)})
    (rule,) = MatrixAdapter(rated).rate_rules(TargetId("matrix:!a:x"), ...)  # type: ignore[arg-type]
    assert (rule.key, rule.limit, rule.window) == ("matrix:@p:x:bot", 10, 50.0)
