"""A ticket's messages reach the resident in the ticket's order, whatever the workers do.

Driven through the real Telegram adapter against the fake Bot API and a real Redis; each
test asserts what the chat RECEIVED, in arrival order (``fake.sent_to``), not palm's own
bookkeeping. The races are built, not waited for: a permit is denied by pausing its rate
key until the test lifts it, a stalled worker is a consumer that read an entry and never
took it. Nothing here passes or fails by how fast the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.admission.share import auto_reply_rules
from gateway.config import GatewayConfig
from gateway.funnel.outbound import ticket_item
from gateway.keys import Keys
from gateway.models import ChatKind, TargetId
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.outbox.model import FINAL
from gateway.outbox.store import GROUP
from gateway.ratelimit import RateLimiter
from gateway.runtime import Runtime
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox.helpers import seed, wait_for, with_outbox, workers
from tests.telegram.conftest import make_config, make_ctx

CHAT = -1001234
TARGET = f"telegram:{CHAT}"


@pytest.fixture
async def tg(
    fake_tg: FakeTelegram, runtime: Runtime, redis: Redis, keys: Keys
) -> AsyncIterator[Runtime]:
    """A runtime whose outbox sends through the Telegram adapter to the fake Bot API."""
    adapter = TelegramAdapter(make_config(fake_tg), GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    # claim_idle_seconds long: a stalled entry comes back only when the test says so.
    rt = with_outbox(runtime, workers=4, claim_idle_seconds=60.0)
    rt.adapters["telegram"] = adapter
    await seed(rt, {TARGET: []})
    try:
        yield rt
    finally:
        await adapter.aclose()


def msg(tid: str, suffix: str) -> list[OutboxItem]:
    return [ticket_item(tid, f"{tid}:{suffix}", TARGET, f"{tid} {suffix}", None)]


def received(fake: FakeTelegram) -> list[str]:
    """What the resident's chat shows, in the order it arrived."""
    return [m.text or "" for m in fake.sent_to(CHAT)]


async def _state(rt: Runtime, delivery_id: str) -> str:
    d = await OutboxStore(rt).get(delivery_id)
    return d.state if d is not None else "missing"


async def in_stream(rt: Runtime, delivery_id: str) -> bool:
    stream = OutboxStore(rt).stream("telegram", "normal")
    return any(f.get("d") == delivery_id for _, f in await rt.redis.xrange(stream))


async def _handled(rt: Runtime, delivery_id: str) -> bool:
    """A worker has dealt with it: sent it, or set it aside (it left the stream)."""
    return await _state(rt, delivery_id) in FINAL or not await in_stream(rt, delivery_id)


async def _all_final(rt: Runtime, *ids: str) -> bool:
    return all([await _state(rt, d) in FINAL for d in ids])


async def test_replies_and_the_resolution_never_overtake_an_ack_waiting_for_its_share(
    tg: Runtime, fake_tg: FakeTelegram
) -> None:
    # The console race: the ack's "half the bot's rate" share is used up (here: paused
    # until the test lifts it); staff reply twice and resolve, none of which needs it.
    rules = tg.adapters["telegram"].rate_rules(TargetId(TARGET), ChatKind.GROUP)
    shares = [r.key for r in auto_reply_rules(rules)]
    assert shares
    limiter = RateLimiter(tg.redis, tg.keys)
    for key in shares:
        await limiter.pause(key, 120)
    order = ["ack", "reply:1", "reply:2", "resolved"]
    for suffix in order:
        await enqueue(tg, msg("T-1", suffix))
    ids = [f"T-1:{suffix}" for suffix in order]
    async with workers(tg):
        await wait_for(lambda: _handled(tg, "T-1:reply:1"))
        assert await _state(tg, "T-1:ack") == "queued"  # still without its permit
        # Set aside while it waits, not cycled through the workers (no busy loop).
        waiting = await OutboxStore(tg).raw("T-1:reply:1")
        for key in shares:
            await tg.redis.delete(tg.keys("rate", "pause", key))
        await wait_for(lambda: _all_final(tg, *ids))
    assert received(fake_tg) == [f"T-1 {suffix}" for suffix in order]
    assert fake_tg.violations == 0
    assert (waiting["state"], waiting["takes"]) == ("queued", "0")


async def _stall(rt: Runtime, delivery_id: str) -> Callable[[], Awaitable[None]]:
    """A worker reads the first queued entry and stalls before taking it; returns its
    hand-back (what the stalled worker does when it wakes, or a take-over in its place)."""
    store = OutboxStore(rt)
    stream = store.stream("telegram", "normal")
    await rt.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    [(_, [(entry, fields)])] = await rt.redis.xreadgroup(GROUP, "stalled", {stream: ">"}, count=1)
    assert fields["d"] == delivery_id
    return lambda: store.requeue([(stream, entry, delivery_id)])


async def test_a_reply_never_overtakes_the_one_before_held_by_a_stalled_worker(
    tg: Runtime, fake_tg: FakeTelegram
) -> None:
    await enqueue(tg, msg("T-2", "reply:1"))
    await enqueue(tg, msg("T-2", "reply:2"))
    hand_back = await _stall(tg, "T-2:reply:1")
    async with workers(tg):
        await wait_for(lambda: _handled(tg, "T-2:reply:2"))  # reached a live worker
        await hand_back()
        await wait_for(lambda: _all_final(tg, "T-2:reply:1", "T-2:reply:2"))
    assert received(fake_tg) == ["T-2 reply:1", "T-2 reply:2"]


async def test_a_failed_message_lets_the_next_one_go(tg: Runtime, fake_tg: FakeTelegram) -> None:
    fake_tg.fail("rejected", chat_id=CHAT, method="sendMessage", times=1)
    await enqueue(tg, msg("T-3", "reply:1"))
    await enqueue(tg, msg("T-3", "reply:2"))
    hand_back = await _stall(tg, "T-3:reply:1")
    async with workers(tg):
        await wait_for(lambda: _handled(tg, "T-3:reply:2"))
        await hand_back()
        await wait_for(lambda: _all_final(tg, "T-3:reply:1", "T-3:reply:2"))
    assert await _state(tg, "T-3:reply:1") == "failed"
    assert received(fake_tg) == ["T-3 reply:2"]


async def test_a_dead_lettered_message_lets_the_next_one_go(
    tg: Runtime, fake_tg: FakeTelegram
) -> None:
    # reply:1 crashed its workers mid-send too often: its next take dead-letters it.
    await enqueue(tg, msg("T-4", "reply:1"))
    await enqueue(tg, msg("T-4", "reply:2"))
    store = OutboxStore(tg)
    await tg.redis.hset(store.delivery_key("T-4:reply:1"), "crashes", tg.config.outbox.max_attempts)
    hand_back = await _stall(tg, "T-4:reply:1")
    async with workers(tg):
        await wait_for(lambda: _handled(tg, "T-4:reply:2"))
        await hand_back()
        await wait_for(lambda: _all_final(tg, "T-4:reply:1", "T-4:reply:2"))
    assert await store.dead_letters() == ["T-4:reply:1"]
    assert received(fake_tg) == ["T-4 reply:2"]
