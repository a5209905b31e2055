"""outbox.keep_days: an old announcement that is out loses its per-chat delivery records
(gateway/ops/retention.py); its counts, audience and replies stay, and edit and recall
refuse it in words. Uses the console's runtime: two platforms, three seeded chats."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway import announcements
from gateway.accounts import Role
from gateway.errors import Conflict
from gateway.ops import retention
from gateway.runtime import Runtime
from gateway.work import store as work_store
from tests.console.helpers import make_user, sign_in
from tests.outbox.helpers import wait_for, with_outbox, workers

Client = TestClient[Any, Any]
DAY = 86400.0


async def _out(rt: Runtime, text: str, to: str = "building:5") -> str:
    ann, _ = await announcements.create(rt, text=text, to=to)

    async def done() -> bool:
        return (await announcements.get(rt, ann.id)).status == announcements.DONE

    async with workers(rt):
        await wait_for(done)
    return ann.id


async def _hashes(rt: Runtime, ann_id: str) -> int:
    return len([k async for k in rt.redis.scan_iter(match=rt.keys("outbox", "d", f"{ann_id}:*"))])


async def test_old_announcements_lose_their_delivery_records_and_keep_the_rest(
    rt: Runtime,
) -> None:
    old = await _out(rt, "Tank Tue")
    young = await _out(rt, "Tank Wed")
    origin = rt.keys("outbox", "origin", announcements.ORIGIN, old)
    assert await rt.redis.scard(origin) == 2
    assert await _hashes(rt, old) == 2
    counts = await announcements.detail(rt, old)
    later = time.time() + 10 * DAY  # both 10 days old then; only a 5-day keep removes them

    assert await retention.prune_once(rt, later) == 0  # keep_days 0: kept for ever
    assert await retention.prune_once(with_outbox(rt, keep_days=30), later) == 0  # not that old
    assert await _hashes(rt, old) == 2

    assert await retention.prune_once(with_outbox(rt, keep_days=5), later) == 2
    assert await _hashes(rt, old) == 0
    assert await _hashes(rt, young) == 0
    assert not await rt.redis.exists(origin)
    after = await announcements.detail(rt, old)
    assert after["deliveries"] == []
    assert after["pruned_at"] == pytest.approx(later)
    assert after["counts"] == counts["counts"]  # the counts stay
    assert after["by_platform"] == counts["by_platform"]
    assert await rt.redis.scard(rt.keys("announcement", old, "targets")) == 2
    assert await retention.prune_once(with_outbox(rt, keep_days=5), later) == 0  # once


async def test_one_still_going_out_is_left_alone(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="Tank Tue", to="building:5")  # no workers
    later = time.time() + 10 * DAY
    assert await retention.prune_once(with_outbox(rt, keep_days=5), later) == 0
    assert await _hashes(rt, ann.id) == 2


async def test_a_pruned_announcement_cannot_be_edited_or_recalled_and_says_why(
    rt: Runtime, client: Client
) -> None:
    ann = await _out(rt, "Tank Tue")
    kept = with_outbox(rt, keep_days=5)
    assert await retention.prune_once(kept, time.time() + 10 * DAY) == 1
    with pytest.raises(Conflict, match="too old to edit or recall") as edit:
        await work_store.submit(rt, ann, "edit", text="Tank Wed")
    assert "已无法修改或撤回" in edit.value.say("zh")
    with pytest.raises(Conflict, match="too old to edit or recall"):
        await work_store.submit(rt, ann, "recall")
    with pytest.raises(Conflict):
        await announcements.recall(rt, ann)
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    page = await (await client.get(f"/console/announcements/{ann}/live")).text()
    assert 'id="pruned"' in page
    assert "the counts above stay" in page


async def test_a_scoped_account_still_cannot_open_a_pruned_one_outside_its_scope(
    rt: Runtime, client: Client
) -> None:
    # The scope check read the deliveries' chats: pruned, it reads the chats kept.
    ann = await _out(rt, "Tank Tue")
    assert await retention.prune_once(with_outbox(rt, keep_days=5), time.time() + 10 * DAY) == 1
    await make_user(rt, "wu", Role.VIEWER, scope="compound:other")
    await sign_in(client, "wu")
    assert (await client.get(f"/console/announcements/{ann}")).status == 404
