"""kill -9 of `palm run` mid-broadcast to real Synapse rooms, then a restart: every room
gets the announcement exactly once, because a resumed send reuses its transaction id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.keys import Keys
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

ROOMS = 60


async def test_kill_9_mid_matrix_broadcast_duplicates_nothing(
    make_palm: PalmFactory,
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    keys: Keys,
) -> None:
    bot: User = await new_user("palmbot")
    resident: User = await new_user("resident")
    rooms = list(
        await asyncio.gather(
            *(resident.create_room(invite=[bot.user_id], name=f"B{i}") for i in range(ROOMS))
        )
    )
    matrix = {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
        # slow enough (10/s) that the kill lands in the middle of the broadcast
        "rate": {"messages_per_second": 10, "burst": 2},
    }  # fmt: skip
    targets = [{"id": f"matrix:{r}", "tags": ["all"]} for r in rooms]
    first = make_palm(matrix=matrix, targets=targets, name="first")
    first.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    first.start()
    await first.ready()

    async def all_joined() -> bool:
        return await redis.scard(keys("targets", "active")) == ROOMS and all(
            [(await resident.members(r)).get(bot.user_id) == "join" for r in rooms]
        )

    await eventually(all_joined, limit=60, what="the bot to join every room")
    sent = await first.cli("announce", "Water off 9-12", "--to", "all", "--no-wait")
    assert sent.returncode == 0, sent.stderr
    ann_id = sent.stdout.split()[0]
    counts = keys("outbox", "counts", "announcement", ann_id)

    async def some_sent() -> bool:
        return int(await redis.hget(counts, "matrix:sent") or 0) >= ROOMS // 3

    await eventually(some_sent, limit=30, what="a third of the rooms")
    first.kill9()
    at_kill = int(await redis.hget(counts, "matrix:sent") or 0)
    assert at_kill < ROOMS

    second = make_palm(matrix=matrix, targets=targets, name="second")
    second.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    second.start()
    await second.ready()

    async def finished() -> bool:
        return int(await redis.hget(counts, "matrix:sent") or 0) == ROOMS

    await eventually(finished, limit=60, what="every room after the restart")
    per_room = [
        [e for e in await resident.messages(r) if e["sender"] == bot.user_id] for r in rooms
    ]
    assert [len(events) for events in per_room] == [1] * ROOMS  # 0 lost, 0 duplicated
    print(f"matrix: killed after {at_kill} of {ROOMS} sent; after restart each room has 1 event")
