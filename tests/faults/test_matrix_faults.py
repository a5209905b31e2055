"""Fault 1 on both platforms: kill -9 of palm while one announcement goes to Telegram
groups (the fake Bot API) and Matrix rooms (the real Synapse).

The audit reads what each chat received on the platform itself: Telegram from the fake,
Matrix from Synapse's room history as a member sees it. A Matrix send in flight at the
kill is resent with the same transaction id on the same device, so Synapse keeps one
event: no room may hold a second copy, flagged or not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, synapse_received, telegram_received, tg_audience
from tests.faults.conftest import Palm, PalmOn, announce, eventually, group_chats, seeds, wait_done
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "new_user", "synapse"]

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

ROOMS = 8
MATRIX_RATE = {"messages_per_second": 2, "burst": 1}
"""Slow enough on purpose that the kills land while rooms are still waiting."""


async def test_kill_9_mid_broadcast_to_telegram_groups_and_matrix_rooms(
    fake_tg: FakeTelegram, palm_on: PalmOn, synapse: Synapse, new_user: Callable[..., Any]
) -> None:
    bot: User = await new_user("palmbot")
    resident: User = await new_user("resident")
    rooms = [
        await resident.create_room(invite=[bot.user_id], name=f"Block {n}") for n in range(ROOMS)
    ]
    groups = group_chats(40)
    targets = seeds(groups) + [{"id": f"matrix:{r}", "tags": ["all"]} for r in rooms]
    matrix = {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any",
        "sync_timeout_ms": 1000, "rate": MATRIX_RATE,
    }  # fmt: skip

    def start(name: str) -> Palm:
        palm = palm_on(name, telegram=fake_tg, matrix=matrix, targets=targets)
        palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
        palm.start()
        return palm

    palm = start("m0")
    await palm.ready()

    async def joined() -> bool:
        members = [await resident.members(r) for r in rooms]
        return all(m.get(bot.user_id) == "join" for m in members)

    await eventually(joined, limit=30, what="the bot to join every room")
    text = "F1 both platforms: water tank cleaning"
    ann = await announce(palm, text)
    rng = random.Random(11)
    kills: list[float] = []
    for n in (1, 2):
        await asyncio.sleep(rng.uniform(0.4, 1.2))
        kills.append(time.time())
        palm.kill9()
        palm = start(f"m{n}")
        await palm.ready()
    shown = await wait_done(palm, ann, limit=90)

    in_rooms = await synapse_received(resident, rooms, bot.user_id, text)
    received = telegram_received(fake_tg, text) + in_rooms
    audience = tg_audience(groups) + [f"matrix:{r}" for r in rooms]
    result = audit(shown, audience, received)
    print(result.row("1 kill -9 palm x2, Telegram + Matrix", f"{ROOMS} rooms, 40 groups"))
    result.check()
    assert {n for n in in_rooms.values()} == {1}, f"a room got a second copy: {in_rooms}"
    after_kill = await _sent_after(resident, rooms, bot.user_id, text, kills[0])
    assert after_kill > 0, "every room had the message before the first kill: nothing tested"
    assert fake_tg.violations == 0


async def _sent_after(member: User, rooms: list[str], sender: str, text: str, at: float) -> int:
    """Events of ``text`` by ``sender`` that Synapse stamped after ``at`` (epoch seconds)."""
    n = 0
    for room in rooms:
        for e in await member.messages(room):
            body = e.get("content", {}).get("body")
            if e.get("sender") == sender and body == text and e["origin_server_ts"] > at * 1000:
                n += 1
    return n
