"""Faults about palm processes: 1 (kill -9 mid-broadcast, repeatedly), 8 (two palms on one
bot) and "several processes" (three palms on one Redis, kill -9 of one).

All through real `palm run` processes against the fake Bot API, which enforces
Telegram's limits (so ``violations == 0`` is the limits holding across processes).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.asyncio import Redis

from gateway.keys import Keys
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, telegram_received, tg_audience
from tests.faults.conftest import (
    Palm,
    PalmOn,
    announce,
    eventually,
    group_chats,
    inbound_ledger,
    seeds,
    ticket_texts,
    wait_done,
)

pytestmark = pytest.mark.slow

WORKERS = 8  # per palm (palm_on's default outbox.workers)


async def test_kill_9_mid_broadcast_repeatedly_at_random_moments(
    fake_tg: FakeTelegram, palm_on: PalmOn
) -> None:
    """Fault 1: three kill -9 at seeded random moments while 300 chats are served."""
    rng = random.Random(1)
    ids = group_chats(300)
    text = "F1 gas inspection, all blocks"
    palm = palm_on("p0", telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()
    ann = await announce(palm, text)
    kills = []
    for n in range(1, 4):
        await asyncio.sleep(rng.uniform(0.3, 3.0))
        kills.append(len(fake_tg.messages))
        palm.kill9()
        palm = palm_on(f"p{n}", telegram=fake_tg, targets=seeds(ids))
        palm.start()
        await palm.ready()
    assert kills[-1] < len(ids), "the broadcast ended before the last kill"
    shown = await wait_done(palm, ann, limit=60)
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text))
    print(result.row("1 kill -9 palm mid-broadcast x3", f"killed at {kills} sends"))
    result.check()  # every extra copy is in a chat whose delivery is flagged
    assert result.counted <= 3 * WORKERS  # at most one in-flight send per worker per kill
    assert fake_tg.violations == 0


def _pid_of(instance_value: str) -> int:
    return int(instance_value.split(":")[1])  # host:pid:hex:lease-hex


async def test_three_palms_on_one_redis_share_fanout_and_ingest_and_survive_kill_9(
    fake_tg: FakeTelegram, palm_on: PalmOn, redis: Redis, keys: Keys
) -> None:
    """Several processes + fault 8: three palm run on one Redis and one bot. Never two
    polls at once, limits hold for all three together, kill -9 of the poller loses nothing."""
    ids = group_chats(150)
    palms = [palm_on(f"n{i}", telegram=fake_tg, targets=seeds(ids)) for i in range(3)]
    for p in palms:
        p.start()
    for p in palms:
        await p.ready()
    text = "F8 roof works, three palms"
    ann = await announce(palms[0], text)
    residents = [f"R{n} the tap in flat {n} is leaking" for n in range(60)]
    for n, body in enumerate(residents[:30]):
        fake_tg.private_message(500000 + n, body)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)

    lease = await redis.get(keys("telegram", fake_tg.bot.bot_id, "poll-lease"))
    assert lease is not None
    by_pid = {p.proc.pid: p for p in palms if p.proc is not None}
    victim: Palm = by_pid[_pid_of(str(lease))]
    sent_at_kill = len(fake_tg.messages)
    victim.kill9()
    for n, body in enumerate(residents[30:], start=30):
        fake_tg.private_message(500000 + n, body)  # arrive while nobody polls
        await asyncio.sleep(0.05)
    alive = [p for p in palms if p is not victim]

    shown = await wait_done(alive[0], ann, limit=60)

    async def all_stored() -> bool:
        return inbound_ledger(residents, await ticket_texts(redis, keys))[0] == 0

    # Another palm takes the dead poller's lease over at once (same host, pid gone).
    await eventually(all_stored, limit=60, what="every resident message in a ticket")
    await asyncio.sleep(1.5)  # a duplicate, if any, would land now
    lost_in, dup_in = inbound_ledger(residents, await ticket_texts(redis, keys))
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text))
    print(
        result.row(
            "several: 3 palms, kill -9 of the poller",
            f"{len(residents)} inbound: lost {lost_in} dup {dup_in}; killed at {sent_at_kill}",
        )
    )
    result.check()
    assert result.counted <= WORKERS
    assert (lost_in, dup_in) == (0, 0)
    assert fake_tg.bot.overlapping_polls == 0
    assert fake_tg.violations == 0
    owners = set()
    for c in ids:
        owner = await redis.hget(keys("outbox", "d", f"{ann}:telegram:{c}"), "owner")
        owners.add(_pid_of(str(owner)))
    assert len(owners) >= 2, "the fan-out was not shared"
