"""The overview: per-minute samples kept bounded, first responses, deliveries by result."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp.test_utils import TestClient

from gateway import announcements
from gateway.accounts import Role
from gateway.console import samples
from gateway.runtime import Runtime
from tests.console.helpers import make_user, sign_in
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]


async def test_one_sample_per_minute_across_processes_and_bounded(rt: Runtime) -> None:
    now = time.time() // 60 * 60 + 10  # now + 1 must be in the same minute
    assert await samples.sample_once(rt, now) is True
    assert await samples.sample_once(rt, now + 1) is False  # same minute: another process had it
    key = rt.keys("console", "samples")
    await rt.redis.lpush(key, *[json.dumps([now - 60 * i, 1, 0]) for i in range(2000)])
    assert await samples.sample_once(rt, now + 120) is True
    assert await rt.redis.llen(key) == samples.MINUTES


async def test_overview_page_draws_the_charts(rt: Runtime, client: Client) -> None:
    now = time.time()
    for minute in range(5):
        await rt.redis.lpush(
            rt.keys("console", "samples"), json.dumps([now - 60 * minute, 10 - minute, 90.0])
        )
    for seconds in (30.0, 60.0, 600.0):
        await samples.record_first_response(rt, seconds)
    ann, _ = await announcements.create(rt, text="water off", to="building:5")
    async with workers(rt):
        await wait_for(lambda: _done(rt, ann.id))
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    page = await (await client.get("/console/overview")).text()
    assert page.count("<polyline") == 2
    assert "1m 0s" in page  # the median of 30 s, 60 s, 600 s
    assert "sent" in page
    assert "3 tickets answered" in page
    assert "half of them within" in page


async def _done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def test_the_charts_end_with_the_figures_the_tiles_show(rt: Runtime, client: Client) -> None:
    # The last per-minute sample is older than the queue as it is now: the charts' "latest"
    # is the live figure, the same as the tile above them, not the stale sample.
    await rt.redis.lpush(rt.keys("console", "samples"), json.dumps([time.time() - 120, 7, 300.0]))
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    page = await (await client.get("/console/overview?lang=en")).text()
    assert page.count("latest: <b>0</b>") == 2
    assert "latest: <b>7</b>" not in page
