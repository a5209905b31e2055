"""Redis faults: 2 (kill -9 of redis-server during ingest, AOF everysec), 3 (Redis gone
for 30 s) and 4 (a reply lost after the write was applied).

Residents' messages come in through the fake Bot API and `palm run`'s poller; they are
checked where staff see them, in the tickets (each text exactly once). Broadcasts are
checked against what the fake Bot API recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.codec import decode_event
from gateway.errors import StoreUnavailable
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from gateway.models import (
    ChatKind,
    InboundMessage,
    Platform,
    PlatformMessageId,
    Sender,
    TargetId,
    UserId,
)
from gateway.runtime import _client
from tests.fakes.redis_proxy import RedisFaultProxy
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, telegram_received, tg_audience
from tests.faults.conftest import (
    OwnRedis,
    PalmOn,
    announce,
    cpu_seconds,
    eventually,
    group_chats,
    inbound_ledger,
    seeds,
    ticket_texts,
    wait_done,
)

WORKERS = 8  # palm_on's default outbox.workers
OUTAGE_GRACE = 5.0
"""A send already under way when Redis went is answered by the fake within this (it
answers in milliseconds; the margin is for a loaded machine)."""


async def _residents(fake: FakeTelegram, texts: list[str], first: int, gap: float) -> None:
    for n, body in enumerate(texts):
        fake.private_message(600000 + first + n, body)
        await asyncio.sleep(gap)


async def _readyz(base: str) -> int:
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(base + "/readyz", timeout=aiohttp.ClientTimeout(total=10)) as r,
        ):
            return r.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


@pytest.mark.slow
async def test_kill_9_of_redis_server_during_ingest_loses_no_acknowledged_update(
    fake_tg: FakeTelegram, palm_on: PalmOn, own_redis: OwnRedis, keys: Keys
) -> None:
    """Fault 2: redis-server (appendonly yes, everysec) is SIGKILLed twice mid-ingest."""
    ids = group_chats(120)
    palm = palm_on(telegram=fake_tg, redis_url=own_redis.url, targets=seeds(ids))
    palm.start()
    await palm.ready()
    text = "F2 courtyard cleaning"
    ann = await announce(palm, text)
    residents = [f"R{n} no hot water in flat {n}" for n in range(200)]
    feeder = asyncio.create_task(_residents(fake_tg, residents, 0, 0.05))
    confirmed_at_kill = []
    for _ in range(2):
        await asyncio.sleep(1.2)
        # what Telegram already dropped = what palm acknowledged as durable
        confirmed_at_kill.append(fake_tg.bot.next_update_id - 1 - len(fake_tg.bot.updates))
        own_redis.kill9()
        await asyncio.sleep(2.0)
        own_redis.start()  # same dir: loads the AOF the killed server left
    await feeder
    assert palm.proc is not None
    assert palm.proc.poll() is None, f"palm died with Redis:\n{palm.tail()}"
    redis = Redis.from_url(own_redis.url, decode_responses=True)
    try:

        async def all_stored() -> bool:
            return inbound_ledger(residents, await ticket_texts(redis, keys))[0] == 0

        await eventually(all_stored, limit=60, what="every resident message in a ticket")
        shown = await wait_done(palm, ann, limit=60)
        await asyncio.sleep(1.0)
        lost, dup = inbound_ledger(residents, await ticket_texts(redis, keys))
    finally:
        await redis.aclose()
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text))
    print(
        f"FAULT-TABLE | 2 kill -9 redis-server x2 during ingest | {len(residents)} in + "
        f"{result.audience} out | {lost} + {result.lost} | {dup} + {result.duplicated} "
        f"(counted {result.counted}) | confirmed before the kills: {confirmed_at_kill}"
    )
    assert min(confirmed_at_kill) > 0, "the kills came before any update was acknowledged"
    assert (lost, dup) == (0, 0)
    result.check()
    assert fake_tg.violations == 0


@pytest.mark.slow
async def test_redis_unavailable_for_30_s(
    fake_tg: FakeTelegram, palm_on: PalmOn, redis_proxy: RedisFaultProxy, redis: Redis, keys: Keys
) -> None:
    """Fault 3: every Redis connection cut and refused for 30 s while updates arrive and a
    broadcast runs. palm stays up without spinning, /readyz says not ready, nothing lost."""
    ids = group_chats(120)
    palm = palm_on(telegram=fake_tg, redis_url=redis_proxy.url, targets=seeds(ids))
    palm.start()
    await palm.ready()
    assert palm.proc is not None
    text = "F3 elevator B out of service"
    ann = await announce(palm, text)
    residents = [f"R{n} corridor light broken on floor {n}" for n in range(60)]
    await _residents(fake_tg, residents[:10], 0, 0.02)
    await asyncio.sleep(1.0)

    redis_proxy.cut()
    cut_at = time.time()
    cpu_before = cpu_seconds(palm.proc.pid)
    outage = 30.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    feeder = asyncio.create_task(_residents(fake_tg, residents[10:], 10, 0.3))
    statuses = []
    while loop.time() - started < outage:
        statuses.append(await _readyz(palm.base))
        assert palm.proc.poll() is None, f"palm died while Redis was away:\n{palm.tail()}"
        await asyncio.sleep(2.0)
    await feeder
    cpu_used = cpu_seconds(palm.proc.pid) - cpu_before
    restored_at = time.time()
    redis_proxy.restore()

    async def all_stored() -> bool:
        return inbound_ledger(residents, await ticket_texts(redis, keys))[0] == 0

    await eventually(all_stored, limit=60, what="every resident message in a ticket")
    shown = await wait_done(palm, ann, limit=60)
    await asyncio.sleep(1.0)
    lost, dup = inbound_ledger(residents, await ticket_texts(redis, keys))
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text))
    # What reached Telegram while Redis was away: every send needs Redis first (a rate
    # permit, then begin_send), so only a send already past both when the cut came may
    # land, at most one per worker, and only at the start; the residents who wrote
    # during the outage get no acknowledgement before their message is durable.
    during = [m for m in fake_tg.messages if cut_at <= m.date < restored_at]
    late = [m for m in during if m.date >= cut_at + OUTAGE_GRACE]
    silent = {600000 + n for n in range(10, len(residents))}
    acked_early = [m for m in fake_tg.messages if m.chat_id in silent and m.date < restored_at]
    print(
        f"FAULT-TABLE | 3 Redis unavailable 30 s | {len(residents)} in + {result.audience} out"
        f" | {lost} + {result.lost} | {dup} + {result.duplicated} (counted {result.counted}) |"
        f" /readyz {Counter(statuses)}, palm CPU {cpu_used:.1f} s in {outage:.0f} s,"
        f" {len(during)} sends during the outage"
    )
    assert statuses
    assert set(statuses) == {503}, statuses  # not ready the whole time, and answering
    assert cpu_used < 0.2 * outage, "palm spins while Redis is away"
    assert len(during) <= WORKERS, f"{len(during)} sends while Redis was away"
    assert late == [], f"sent {len(late)} with Redis away for over {OUTAGE_GRACE} s"
    assert acked_early == [], "acknowledged a message that was not stored"
    assert (lost, dup) == (0, 0)
    result.check()
    assert fake_tg.violations == 0
    assert await _readyz(palm.base) == 200


def _message(n: int) -> InboundMessage:
    return InboundMessage(
        platform=Platform("telegram"),
        dedupe_key=f"u{n}",
        target=TargetId(f"telegram:{700000 + n}"),
        chat_kind=ChatKind.DIRECT,
        message_id=PlatformMessageId(f"{n}"),
        sender=Sender(UserId(str(700000 + n)), f"R{n}"),
        text=f"R{n} report",
        sent_at=time.time(),
    )


async def test_lost_reply_after_applied_write_inbound_sink_dedupes(
    redis_proxy: RedisFaultProxy, redis: Redis, keys: Keys
) -> None:
    """Fault 4 (inbound): every 3rd EVALSHA is applied but its reply lost. palm's client
    retries it, and a caller retries a batch that failed: each update is stored once."""
    client = _client(redis_proxy.url, decode=True)  # palm's own client settings (retries)
    sink = RedisInboundSink(client, keys)
    redis_proxy.drop_reply("EVALSHA", every=3)
    failures = 0
    try:
        for batch in range(40):
            events = [_message(batch * 5 + i) for i in range(5)]
            while True:
                try:
                    await sink.accept(events)
                    break
                except StoreUnavailable:
                    failures += 1  # not durable for all we know: the poller sends it again
    finally:
        await client.aclose()
    entries = await redis.xrange(inbound_stream(keys))
    got = Counter(decode_event(f["e"]).dedupe_key for _, f in entries)  # type: ignore[union-attr]
    lost = sum(1 for n in range(200) if got[f"u{n}"] == 0)
    dup = sum(c - 1 for c in got.values())
    print(
        f"FAULT-TABLE | 4 Redis reply lost after apply (inbound sink) | 200 | {lost} | {dup} | "
        f"{redis_proxy.dropped} replies dropped, {failures} batches retried by the caller"
    )
    assert redis_proxy.dropped >= 10
    assert (lost, dup) == (0, 0)
    assert len(entries) == 200


@pytest.mark.slow
async def test_lost_replies_under_palm_run_keep_outbox_and_inbound_exact(
    fake_tg: FakeTelegram, palm_on: PalmOn, redis_proxy: RedisFaultProxy, redis: Redis, keys: Keys
) -> None:
    """Fault 4 (everything): palm run behind the proxy loses the reply of every 7th script
    call and every 5th MULTI/EXEC (applied by Redis) during a broadcast and ingest."""
    ids = group_chats(100)
    palm = palm_on(telegram=fake_tg, redis_url=redis_proxy.url, targets=seeds(ids))
    palm.start()
    await palm.ready()
    redis_proxy.drop_reply("EVALSHA", every=7)
    redis_proxy.drop_reply("EXEC", every=5)
    text = "F4 heating test tonight"
    ann = await announce(palm, text)
    residents = [f"R{n} window stuck in flat {n}" for n in range(40)]
    await _residents(fake_tg, residents, 0, 0.05)

    async def all_stored() -> bool:
        return inbound_ledger(residents, await ticket_texts(redis, keys))[0] == 0

    await eventually(all_stored, limit=60, what="every resident message in a ticket")
    shown = await wait_done(palm, ann, limit=60)
    await asyncio.sleep(1.0)
    redis_proxy.clear()
    lost, dup = inbound_ledger(residents, await ticket_texts(redis, keys))
    # no send was in flight at a crash: nothing ambiguous, so not even a flagged copy
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text), max_copies=1)
    print(
        f"FAULT-TABLE | 4 Redis replies lost under palm run | {len(residents)} in + "
        f"{result.audience} out | {lost} + {result.lost} | {dup} + {result.duplicated} "
        f"(counted {result.counted}) | {redis_proxy.dropped} replies dropped "
        f"{Counter(redis_proxy.dropped_names)}"
    )
    assert redis_proxy.dropped >= 10
    assert palm.proc is not None
    assert palm.proc.poll() is None, palm.tail()
    assert (lost, dup) == (0, 0)
    result.check()
    assert fake_tg.violations == 0
