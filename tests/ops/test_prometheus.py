"""The dashboard and the alert rules, checked against a real Prometheus scraping a real
`palm run` (fake Bot API, its own Redis) through a scripted scenario: tickets, broadcasts
with failing chats, a Telegram outage, Redis gone, palm gone.

The rules Prometheus evaluates are deploy/prometheus/alerts.yml time-scaled by
``prom.FACTOR`` (see ``prom.scale_rules``); the shipped file itself goes through
``promtool check rules``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from redis.asyncio import Redis

from gateway.inbound import inbound_stream
from gateway.keys import Keys
from tests.core.helpers import REPO
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.conftest import OwnRedis, PalmOn, fake_tg, group_chats, own_redis, palm_on
from tests.ops.prom import FACTOR, Prometheus, promtool_check, scale_rules, skeleton

__all__ = ["fake_tg", "own_redis", "palm_on"]

ALERTS = REPO / "deploy/prometheus/alerts.yml"
DASHBOARD = REPO / "deploy/grafana/palm.json"
README = REPO / "README.md"


def test_shipped_rules_pass_promtool_and_point_to_the_readme(tmp_path: Path) -> None:
    checked = promtool_check(ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', README.read_text(encoding="utf-8")))
    for rule in yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]:
        notes = rule["annotations"]
        assert notes["summary"]
        assert notes["runbook"].startswith("README.md#"), rule["alert"]
        assert notes["runbook"].split("#", 1)[1] in anchors, rule["alert"]
    scaled = tmp_path / "scaled.yml"
    scaled.write_text(yaml.safe_dump(scale_rules(yaml.safe_load(ALERTS.read_text()))))
    assert promtool_check(scaled).returncode == 0


def test_scaled_rules_keep_the_expressions() -> None:
    shipped = yaml.safe_load(ALERTS.read_text())
    scaled = scale_rules(shipped)
    for orig, fast in zip(shipped["groups"][0]["rules"], scaled["groups"][0]["rules"], strict=True):
        assert skeleton(orig["expr"]) == skeleton(fast["expr"]), orig["alert"]
    first = scaled["groups"][0]["rules"][0]
    assert first["expr"].endswith(f"> {600 / FACTOR:g}")
    assert first["for"] == "1s"


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert {"name": "datasource", "type": "datasource"}.items() <= board["templating"]["list"][
        0
    ].items()
    exprs = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            exprs.append(target["expr"])
    return exprs


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base + "/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession(headers=self.headers) as s,
            s.request(method, self.base + path, json=body) as r,
        ):
            assert r.status < 300, (path, r.status, await r.text())
            return await r.json()


async def wait_firing(
    prom: Prometheus, names: set[str], seen: set[str], limit: float,
    while_waiting: Callable[[], Awaitable[None]] | None = None,
) -> None:  # fmt: skip
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        seen |= await prom.firing()
        if names <= seen:
            return
        if while_waiting is not None:
            await while_waiting()
        await asyncio.sleep(0.5)
    raise AssertionError(f"not firing: {sorted(names - seen)} (fired: {sorted(seen)})")


@pytest.mark.paced
@pytest.mark.slow  # about 45 s
async def test_dashboard_and_alerts_against_real_prometheus(
    tmp_path: Path, fake_tg: FakeTelegram, own_redis: OwnRedis, palm_on: PalmOn, keys: Keys
) -> None:
    ok_chats = group_chats(10)
    bad_chats = group_chats(2, base=1002000000000)
    seeds = [{"id": f"telegram:{c}", "tags": ["ok"]} for c in ok_chats]
    seeds += [{"id": f"telegram:{c}", "tags": ["bad"]} for c in bad_chats]
    for chat in bad_chats:  # a permanent rejection: failed, the chat stays active
        fake_tg.fail("rejected", chat_id=chat)
    fake_tg.fail("retry_after", chat_id=ok_chats[0], times=1, retry_after=1)
    palm = palm_on("palm", telegram=fake_tg, redis_url=own_redis.url, targets=seeds)
    palm.start()
    await palm.ready()
    made = await palm.cli("tokens", "create", "ops", "--role", "admin")
    assert made.returncode == 0, made.stderr
    api = Api(palm.base, made.stdout.strip())

    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(scale_rules(yaml.safe_load(ALERTS.read_text()))))
    prom = Prometheus(tmp_path / "prometheus", [palm.base.removeprefix("http://")], rules)
    prom.start()
    try:
        await prom.ready()
        await _scenario(prom, palm, api, fake_tg, own_redis, ok_chats, keys)
    finally:
        prom.stop()


async def _scenario(
    prom: Prometheus, palm: Any, api: Api, fake: FakeTelegram, redis: OwnRedis,
    ok_chats: list[int], keys: Keys,
) -> None:  # fmt: skip
    seen: set[str] = set()
    n = itertools.count()

    # Tickets: an urgent group report nobody claims, a direct message nobody claims,
    # and one that gets a staff answer (first-response histogram).
    fake.group_message(ok_chats[1], "/report fire hydrant by building 5 is broken")
    fake.private_message(501, "the lift in building 3 makes a noise")
    fake.private_message(502, "when is the water back?")

    async def answered() -> bool:
        page = await api.call("GET", "/tickets?status=new")
        mine = [t for t in page["tickets"] if "water back" in (t.get("text") or "")]
        if mine:
            await api.call("POST", f"/tickets/{mine[0]['id']}/reply", {"text": "at 18:00"})
        return bool(mine)

    deadline = time.monotonic() + 30
    while not await answered():
        assert time.monotonic() < deadline, palm.tail()
        await asyncio.sleep(0.3)

    async def broadcast(to: str = "*") -> None:
        await api.call("POST", "/announcements", {"text": f"notice {next(n)}", "to": to})
        await asyncio.sleep(1.2)  # 1 message per second per chat

    # Broadcasts to every chat, 2 of 12 rejected: 17 % failing, kept up until it fires.
    await wait_firing(
        prom,
        {"PalmDeliveriesFailing", "PalmTicketWaiting", "PalmUrgentTicketUnclaimed"},
        seen, limit=90, while_waiting=broadcast,
    )  # fmt: skip

    # Every dashboard expression returns a series while everything runs.
    for expr in dashboard_exprs():
        concrete = expr.replace("$__rate_interval", "1m")
        assert await prom.query(concrete), f"no series for {concrete}"

    # An inbound entry that does not decode: the funnel parks it, and says so.
    client = Redis.from_url(redis.url)
    try:
        await client.xadd(inbound_stream(keys), {"e": "{not json"})
    finally:
        await client.aclose()
    await wait_firing(prom, {"PalmInboundParked"}, seen, limit=30)

    # Telegram goes away: platform down, not ready, and the outbox keeps growing.
    await fake.go_down()
    try:
        await wait_firing(
            prom, {"PalmPlatformDown", "PalmNotReady", "PalmOutboxGrowing"}, seen, limit=90,
            while_waiting=lambda: broadcast("ok"),
        )  # fmt: skip
    finally:
        await fake.go_up()

    # Redis gone (palm stays up and says so), then palm gone.
    redis.kill9()
    await wait_firing(prom, {"PalmRedisUnreachable"}, seen, limit=30)
    assert palm.proc.poll() is None, "palm must survive a Redis outage"
    palm.kill9()
    await wait_firing(prom, {"PalmDown"}, seen, limit=30)

    names = {r["alert"] for r in yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]}
    assert names <= seen
